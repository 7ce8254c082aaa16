#!/usr/bin/env bash
# Packs a root filesystem directory into a one-layer image archive that `ctr images import`
# (and `docker load`) reads, with no container engine: GNU tar makes the layer (numeric
# owners and the security.capability xattr kept, so a file capability survives), umoci
# builds the OCI layout and its config, skopeo writes it as a docker archive named REF.
#
#   oci-archive.sh ROOTFS REF OUT.tar [umoci config flags...]
#   e.g. oci-archive.sh /tmp/rootfs example.local/pause:1 pause.tar --config.entrypoint=/pause
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: oci-archive.sh ROOTFS REF OUT.tar [umoci config flags...]" >&2; exit 2; }
rootfs=$1 ref=$2 out=$3
shift 3
for tool in umoci skopeo tar; do
  command -v "$tool" >/dev/null || { echo "oci-archive: $tool is required (apt-get install umoci skopeo)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A fixed mtime and sorted names: the same rootfs gives the same layer digest.
tar --sort=name --numeric-owner --xattrs --xattrs-include='security.capability' \
  --mtime='1970-01-01 00:00:00' -C "$rootfs" -cf "$work/layer.tar" .
umoci init --layout "$work/oci"
umoci new --image "$work/oci:img"
umoci raw add-layer --image "$work/oci:img" --history.created_by "deploy/image/oci-archive.sh" "$work/layer.tar"
if [ $# -gt 0 ]; then umoci config --image "$work/oci:img" "$@"; fi
rm -f "$out"
skopeo --insecure-policy copy -q "oci:$work/oci:img" "docker-archive:$out:$ref"
