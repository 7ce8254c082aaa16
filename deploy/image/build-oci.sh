#!/usr/bin/env bash
# The dnssync image without a container engine: the same filesystem as the Dockerfile's final
# stage, as a docker archive that `ctr images import` (or `docker load`) reads.
#
#   build-oci.sh [REF] [OUT.tar]   default REF: ghcr.io/dnssync/dnssync:<package.json version>
#
# Both builds share their definitions rather than repeat them:
#   - deploy/image/image.sh: the Debian packages (ip, iptables), the capability-carrying
#     node copy and user/group 65532 — the Dockerfile's final stage runs it, so does this;
#   - deploy/image/tsconfig.build.json: what of src/ is compiled into dist/src;
#   - the Dockerfile's final stage: ENV, WORKDIR, USER, ENTRYPOINT and CMD, read from there.
# What the base image (node:24-bookworm-slim) supplies comes from this Debian host instead:
# Node 24 is the npm `node` package the project already installs, its shared libraries and
# the packages' files are copied from the host, which is bookworm like that base.
# Needs root (setcap, file ownership), umoci, skopeo and setcap.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
version=$(sed -n 's/^  "version": "\(.*\)",/\1/p' package.json)
ref=${1:-ghcr.io/dnssync/dnssync:$version}
out=${2:-dist/image/dnssync.tar}
step=0
progress() { step=$((step + 1)); echo "[image-oci $step/6] $*" >&2; }
for tool in setcap umoci skopeo dpkg; do
  command -v "$tool" >/dev/null || { echo "build-oci: $tool is required" >&2; exit 1; }
done
node_bin=$(readlink -f node_modules/.bin/node)
[ -x "$node_bin" ] || { echo "build-oci: node_modules/.bin/node is missing: run npm ci first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{etc,tmp,usr/local/bin,app} && chmod 1777 "$root/tmp"

# Copies FILE (dereferenced) to the same path under the rootfs, with the libraries it loads.
copy_elf() {
  local f=$1 lib
  [ -e "$root$f" ] || { mkdir -p "$root$(dirname "$f")"; cp -L --preserve=mode "$f" "$root$f"; }
  ldd "$f" >/dev/null 2>&1 || return 0
  for lib in $(ldd "$f" | grep -oE '/[^ ]+' | sort -u); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

progress "base: Node $("$node_bin" --version) from the npm node package, its libraries, /etc"
copy_elf "$node_bin"
mv "$root$node_bin" "$root/usr/local/bin/node"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

progress "packages from deploy/image/image.sh: $(sh deploy/image/image.sh packages)"
for pkg in $(sh deploy/image/image.sh packages); do
  dpkg -s "$pkg" >/dev/null 2>&1 || { echo "build-oci: Debian package $pkg is not installed here (apt-get install $pkg)" >&2; exit 1; }
  while read -r f; do
    case "$f" in /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/*) continue ;; esac
    [ -f "$f" ] && copy_elf "$f"
  done < <(dpkg -L "$pkg")
done
for b in $(sh deploy/image/image.sh binaries); do
  mkdir -p "$root$(dirname "$b")"
  cp -L --preserve=mode "$b" "$root$b"
done
sh deploy/image/image.sh finish "$root"

progress "/app: production node_modules (npm ci --omit=dev), dist/src, crds"
cp package.json package-lock.json "$root/app/"
(cd "$root/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2 && rm package-lock.json)
progress "/app/dist/src: tsc -p deploy/image/tsconfig.build.json"
node_modules/.bin/tsc -p deploy/image/tsconfig.build.json --outDir "$work/dist"
mkdir -p "$root/app/dist" && cp -r "$work/dist/src" "$root/app/dist/src"
cp -r crds "$root/app/crds"

progress "config from the Dockerfile's final stage"
# Those lines are the one definition of how the image starts; read them, do not copy them.
mapfile -t config < <(node -e '
  const text = require("fs").readFileSync("Dockerfile", "utf8");
  const final = text.slice(text.lastIndexOf("\nFROM "));
  const out = ["--config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
  for (const m of final.matchAll(/^(ENV|WORKDIR|USER|ENTRYPOINT|CMD)\s+(.+)$/gm)) {
    const [, k, v] = m;
    if (k === "ENV") for (const kv of v.split(/\s+/)) out.push(`--config.env=${kv}`);
    if (k === "WORKDIR") out.push(`--config.workingdir=${v}`);
    if (k === "USER") out.push(`--config.user=${v}`);
    if (k === "ENTRYPOINT") for (const a of JSON.parse(v)) out.push(`--config.entrypoint=${a}`);
    if (k === "CMD") for (const a of JSON.parse(v)) out.push(`--config.cmd=${a}`);
  }
  console.log(out.join("\n"));')
progress "packing $ref into $out (deploy/image/oci-archive.sh)"
mkdir -p "$(dirname "$out")"
bash deploy/image/oci-archive.sh "$root" "$ref" "$out" "${config[@]}"
echo "[image-oci] $out: $(du -h "$out" | cut -f1), load it with: ctr -n k8s.io images import $out" >&2
echo "$out"
