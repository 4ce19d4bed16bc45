#!/bin/bash
# build_server_deps.sh — libmicrohttpd and jansson from their upstream source tarballs into a prefix,
# for a machine without them and without a package registry (the H200 device machine): `quanta serve`
# is built only when both are found. HTTPS is left out (the server speaks plain HTTP on 127.0.0.1).
#
#   bash bench/e2e/build_server_deps.sh SRC_DIR PREFIX
#   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig LD_LIBRARY_PATH=PREFIX/lib
#
# Needs cc, make and cmake (jansson's tarball is its git tree: CMake, no configure).
# SRC_DIR holds libmicrohttpd_*.orig.tar.* and jansson_*.orig.tar.gz. Fetch them once on a Debian
# machine with deb-src lines (any folder; nothing is installed):
#   apt-get source --download-only libmicrohttpd jansson
set -eu
SRC=$(cd "$1" && pwd)
PREFIX=$(mkdir -p "$2" && cd "$2" && pwd)
W=$(mktemp -d)
NP=$(nproc)
cd "$W"
tar xf "$SRC"/jansson_*.orig.tar.gz
# CMake 4 (the device has 4.4) refuses jansson 2.14's cmake_minimum_required(3.1) unless told the policy floor
( cd jansson-* && cmake -S . -B b -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DJANSSON_BUILD_SHARED_LIBS=ON -DJANSSON_BUILD_DOCS=OFF -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF >/dev/null &&
  cmake --build b -j "$NP" >/dev/null && cmake --install b >/dev/null )
tar xf "$SRC"/libmicrohttpd_*.orig.tar.*
( cd libmicrohttpd-* && ./configure -q --prefix="$PREFIX" --disable-static --disable-https --disable-doc \
    --disable-examples --disable-curl --without-gnutls && make -s -j "$NP" && make -s install )
rm -rf "$W"
echo "server deps in $PREFIX: $(ls "$PREFIX"/lib/pkgconfig)"
