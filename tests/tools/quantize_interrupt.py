#!/usr/bin/env python3
"""Nothing lost when `quanta quantize` is stopped midway: an existing output file is replaced
only by a complete one. The run is stopped (SIGTERM, then SIGKILL) while its temporary output
exists beside the target, i.e. while it is writing; afterwards the old output is unchanged, and
after SIGTERM no temporary file is left (the CLI's handler removes it; SIGKILL cannot be
caught, so a stray temporary may remain, but the target is intact). A run that is not stopped
then replaces the output. Usage: quantize_interrupt.py QUANTA MODEL.gguf"""
import os, shutil, signal, subprocess, sys, tempfile, time

quanta, model = sys.argv[1:3]
old = b"an existing file the user wants to keep\n"


def stray(d):
    return [f for f in os.listdir(d) if f.endswith(".tmp")]


def run_and_stop(d, sig):
    """Starts a quantize over out.gguf and sends sig once its temporary file appears."""
    out = os.path.join(d, "out.gguf")
    with open(out, "wb") as f:
        f.write(old)
    p = subprocess.Popen([quanta, "quantize", "-m", model, "-o", out, "--quant", "q8", "--override", "*=f32", "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    caught = False
    while p.poll() is None:
        if stray(d):
            p.send_signal(sig)
            caught = True
            break
        time.sleep(0.0005)
    _, err = p.communicate()
    with open(out, "rb") as f:
        now = f.read()
    return caught, p.returncode, now, err.decode(errors="replace")


bad = 0
for sig in (signal.SIGTERM, signal.SIGKILL):
    for attempt in range(8):  # the write phase is short: try until the signal lands inside it
        d = tempfile.mkdtemp()
        try:
            caught, rc, now, err = run_and_stop(d, sig)
            if not caught:
                continue
            left = stray(d)
            ok = now == old and rc == -sig and (sig == signal.SIGKILL or not left)
            print(f"{signal.Signals(sig).name} during the write (attempt {attempt + 1}): exit {rc}, output "
                  f"{'unchanged' if now == old else 'CHANGED'}, temporary files left: {left} {'ok' if ok else 'FAIL'}")
            bad += not ok
            break
        finally:
            shutil.rmtree(d)
    else:
        print(f"{signal.Signals(sig).name}: the run never was caught writing in 8 attempts")
        bad += 1
d = tempfile.mkdtemp()
try:
    out = os.path.join(d, "out.gguf")
    with open(out, "wb") as f:
        f.write(old)
    r = subprocess.run([quanta, "quantize", "-m", model, "-o", out, "--quant", "q8", "-q"], capture_output=True)
    with open(out, "rb") as f:
        replaced = f.read(4) == b"GGUF"
    print(f"uninterrupted: exit {r.returncode}, output replaced by a GGUF file: {replaced}, temporary files: {stray(d)}")
    bad += not (r.returncode == 0 and replaced and not stray(d))
finally:
    shutil.rmtree(d)
sys.exit(1 if bad else 0)
