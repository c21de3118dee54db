#!/bin/sh
# Build the libFuzzer drivers with clang into build-fuzz/ (tests/fuzz/README.md).
#   tests/fuzz/build.sh                  all drivers (the Makefile's FUZZ_DRIVERS)
#   tests/fuzz/build.sh openlineage      only the ones named
# libshared is compiled once into build-fuzz/obj with coverage instrumentation
# (-fsanitize=fuzzer-no-link) and linked into every driver.
set -eu
cd "$(dirname "$0")/../.."
CC=${CC:-clang}
OUT=${OUT:-build-fuzz}
# the packages, libraries and drivers of the Makefile, so the two never drift apart
PKGS="$(make -s print-PKGS)"
CFLAGS="-std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -O1 -g -fno-omit-frame-pointer -Ilibshared/include $(pkg-config --cflags $PKGS)"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
LIBS="$(pkg-config --libs $PKGS) $(make -s print-EXTRA_LIBS)"
mkdir -p "$OUT/obj"
objs=""
for src in libshared/src/*.c; do
    obj="$OUT/obj/$(basename "$src" .c).o"
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find libshared/include -newer "$obj" -name '*.h')" ]; then
        echo "CC $src"
        $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done
for drv in ${*:-$(make -s print-FUZZ_DRIVERS)}; do
    echo "LD $OUT/fuzz_$drv"
    $CC $CFLAGS $SAN -fsanitize=fuzzer -o "$OUT/fuzz_$drv" "tests/fuzz/fuzz_$drv.c" $objs $LIBS
done
