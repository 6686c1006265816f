#!/usr/bin/env bash
# Idempotent setup for tsbpf development and tests. Run as root on Debian with Node 20 and npm.
# Each step checks before it acts, so a second run does (almost) nothing. Needs no tty or stdin.
set -euo pipefail
exec </dev/null

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# newer SRC... than DST (or DST missing) -> 0
stale() {
  local dst="$1"; shift
  [ -e "$dst" ] || return 0
  local s
  for s in "$@"; do
    [ "$s" -nt "$dst" ] && return 0
  done
  return 1
}

# --- 1. npm dependencies (deno, bun, assemblyscript, wabt) --------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ] \
  || [ ! -x node_modules/.bin/deno ] || [ ! -x node_modules/.bin/bun ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
./node_modules/.bin/deno --version >/dev/null 2>&1 || die "node_modules/.bin/deno does not run; remove node_modules and rerun"
./node_modules/.bin/bun --version >/dev/null 2>&1 || die "node_modules/.bin/bun does not run; remove node_modules and rerun"

# --- 2. system packages -------------------------------------------------------------------------
PKGS=(clang-19 llvm-19 bpftool libbpf-dev libelf-dev zlib1g-dev systemtap-sdt-dev iproute2 gcc make)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
for pair in clang-19:clang-19 llvm-objdump-19:llvm-19 bpftool:bpftool gcc:gcc make:make ip:iproute2; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); rerun as root"
  say "apt-get install ${PKGS[*]} (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${PKGS[@]}" >/dev/null
fi

# --- 3. tracefs, securityfs and bpffs -----------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
    say "mount tracefs at /sys/kernel/tracing"
    mount -t tracefs tracefs /sys/kernel/tracing || say "warning: could not mount tracefs"
  fi
  # securityfs shows the active LSM list and the lockdown state, which error hints check.
  if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
    say "mount securityfs at /sys/kernel/security"
    mount -t securityfs securityfs /sys/kernel/security || say "warning: could not mount securityfs"
  fi
  if [ -d /sys/fs/bpf ] && ! mountpoint -q /sys/fs/bpf; then
    say "mount bpffs at /sys/fs/bpf"
    mount -t bpf bpf /sys/fs/bpf || say "warning: could not mount bpffs"
  fi
else
  say "not root: skipping tracefs/bpffs mounts (kernel tests will skip)"
fi

# --- 4. vmlinux.h -------------------------------------------------------------------------------
BPF_DIR=tests/bpf
BPF_BUILD=$BPF_DIR/build
mkdir -p "$BPF_BUILD"
VMLINUX_BTF=/sys/kernel/btf/vmlinux
VMLINUX_H=$BPF_BUILD/vmlinux.h
[ -r "$VMLINUX_BTF" ] || die "$VMLINUX_BTF is missing; the kernel needs CONFIG_DEBUG_INFO_BTF=y"
# >>> VMLINUX_H GENERATOR: the one place that says who writes vmlinux.h: "tsbpf" (its output is
# byte-identical to bpftool's, checked by tests/c_dump_test.ts) or "bpftool".
VMLINUX_GEN=tsbpf
gen_vmlinux_h() {
  case "$VMLINUX_GEN" in
    tsbpf) ./node_modules/.bin/deno run -A --quiet cli.ts btf dump file "$VMLINUX_BTF" format c ;;
    *) bpftool btf dump file "$VMLINUX_BTF" format c ;;
  esac
}
# <<< VMLINUX_H GENERATOR
# Regenerated when missing, or when the kernel or the generator changed; an identical result keeps
# the old file (and its mtime), so the objects are not rebuilt for nothing.
KERNEL_STAMP="$(uname -r) $(stat -c %s "$VMLINUX_BTF") $VMLINUX_GEN"
if [ ! -s "$VMLINUX_H" ] || [ "$(cat "$BPF_BUILD/.vmlinux.stamp" 2>/dev/null)" != "$KERNEL_STAMP" ]; then
  say "generate $VMLINUX_H ($VMLINUX_GEN)"
  gen_vmlinux_h > "$VMLINUX_H.tmp" || { rm -f "$VMLINUX_H.tmp"; die "generating $VMLINUX_H failed"; }
  if [ -s "$VMLINUX_H" ] && cmp -s "$VMLINUX_H.tmp" "$VMLINUX_H"; then
    rm -f "$VMLINUX_H.tmp"
  else
    mv "$VMLINUX_H.tmp" "$VMLINUX_H"
  fi
  echo "$KERNEL_STAMP" > "$BPF_BUILD/.vmlinux.stamp"
fi

# --- 5. BPF test objects ------------------------------------------------------------------------
# The multiarch include dir is for <asm/errno.h>, which libbpf's usdt.bpf.h pulls in.
CLANG_BPF=(clang-19 -g -O2 -target bpf -D__TARGET_ARCH_x86 -I "$BPF_BUILD" -I "$BPF_DIR"
  -idirafter "/usr/include/$(gcc -dumpmachine)")
built=0
shopt -s nullglob
for src in "$BPF_DIR"/*.bpf.c; do
  name="$(basename "$src" .c)"
  obj="$BPF_BUILD/$name.o"
  if stale "$obj" "$src" "$VMLINUX_H" "$BPF_DIR"/*.h; then
    "${CLANG_BPF[@]}" -c "$src" -o "$obj.tmp" || { rm -f "$obj.tmp"; die "clang failed on $src"; }
    mv "$obj.tmp" "$obj"
    built=$((built + 1))
  fi
done
say "bpf objects: $built rebuilt, $(ls "$BPF_BUILD"/*.bpf.o 2>/dev/null | wc -l) total"

# --- 6. libbpf oracle ---------------------------------------------------------------------------
ORACLE_BUILD=tests/oracle/build
mkdir -p "$ORACLE_BUILD"
for src in tests/oracle/*.c; do
  name="$(basename "$src" .c)"
  out="$ORACLE_BUILD/$name"
  if stale "$out" "$src"; then
    say "build $out"
    gcc -O2 -Wall -o "$out.tmp" "$src" -lbpf -lelf -lz || { rm -f "$out.tmp"; die "gcc failed on $src"; }
    mv "$out.tmp" "$out"
  fi
done

# An LD_PRELOAD shim that makes the oracle's BPF_PROG_LOAD of one program type fail (fault tests).
for src in tests/oracle/shim/*.c; do
  out="$ORACLE_BUILD/$(basename "$src" .c).so"
  if stale "$out" "$src"; then
    say "build $out"
    gcc -O2 -Wall -shared -fPIC -o "$out.tmp" "$src" -ldl || { rm -f "$out.tmp"; die "gcc failed on $src"; }
    mv "$out.tmp" "$out"
  fi
done

# --- 7. test binaries (uprobe/USDT targets) -----------------------------------------------------
BIN_BUILD=tests/bin/build
mkdir -p "$BIN_BUILD"
for src in tests/bin/*.c; do
  name="$(basename "$src" .c)"
  out="$BIN_BUILD/$name"
  if stale "$out" "$src"; then
    say "build $out"
    # -O1 and noinline keep the uprobe targets as real, findable functions.
    gcc -O1 -g -fno-omit-frame-pointer -o "$out.tmp" "$src" || { rm -f "$out.tmp"; die "gcc failed on $src"; }
    mv "$out.tmp" "$out"
  fi
done

# --- 8. the demos' objects (examples/opensnoop.ts, examples/trace_write.ts) ----------------------
# examples/NAME.bpf.c -> examples/build/NAME.bpf.o, NAME_bpf.gen.ts with the object's bytes (base64)
# and NAME.skel.ts (its skeleton, the object inside), so that `bun build --compile` and
# `deno bundle` embed the object in the program.
EX_DIR=examples
EX_BUILD=$EX_DIR/build
mkdir -p "$EX_BUILD"
for src in "$EX_DIR"/*.bpf.c; do
  name="$(basename "$src" .bpf.c)"
  obj="$EX_BUILD/$name.bpf.o"
  gen="$EX_BUILD/${name}_bpf.gen.ts"
  if stale "$obj" "$src" "$VMLINUX_H"; then
    say "build $obj"
    "${CLANG_BPF[@]}" -c "$src" -o "$obj.tmp" || { rm -f "$obj.tmp"; die "clang failed on $src"; }
    mv "$obj.tmp" "$obj"
  fi
  if stale "$gen" "$obj"; then
    say "generate $gen"
    node -e '
      const fs = require("fs");
      const [obj, out] = process.argv.slice(1);
      const bytes = fs.readFileSync(obj);
      const sha = require("crypto").createHash("sha256").update(bytes).digest("hex");
      fs.writeFileSync(out, [
        `// Code generated by scripts/setup.sh from ${obj} (sha256 ${sha}); DO NOT EDIT.`,
        `/** The sha256 of the embedded object file. */`,
        `export const OBJECT_SHA256 = "${sha}";`,
        `/** The bytes of ${obj}, embedded so that bundles and compiled programs carry them. */`,
        `export const OBJECT: Uint8Array = Uint8Array.from(`,
        `  atob(`,
        `    "${bytes.toString("base64")}",`,
        `  ),`,
        `  (c) => c.charCodeAt(0),`,
        `);`,
        ``,
      ].join("\n"));
    ' "$obj" "$gen.tmp" || { rm -f "$gen.tmp"; die "generating $gen failed"; }
    mv "$gen.tmp" "$gen"
  fi
  # The typed skeleton (`tsbpf gen skeleton`), with the object embedded. It imports the library
  # from ../../mod.ts, as the examples do: one copy of the library in a program whatever runs it
  # (deno run, bun, bun build --compile and deno bundle all follow relative imports; a skeleton
  # importing bundle/ while the program imports mod.ts would load two libraries).
  skel="$EX_BUILD/$name.skel.ts"
  if stale "$skel" "$obj" gen/skeleton.ts cli/gen_skeleton.ts; then
    say "generate $skel"
    ./node_modules/.bin/deno run -A --quiet cli.ts gen skeleton "$obj" name "$name" \
      --import-from ../../mod.ts >"$skel.tmp" || { rm -f "$skel.tmp"; die "generating $skel failed"; }
    mv "$skel.tmp" "$skel"
  fi
done

# The library as one module (bundle/tsbpf.js): a no-op when it is current.
bash "$ROOT/scripts/build_bundle.sh" >/dev/null || die "building bundle/tsbpf.js failed (scripts/build_bundle.sh)"

say "ok"
