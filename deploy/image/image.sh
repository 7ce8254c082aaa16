#!/bin/sh
# What the dnssync image holds beyond its base (Node, /app): the one definition both builds
# run — the Dockerfile's final stage (`image.sh packages`, then `image.sh finish /`) and the
# engine-less build (deploy/image/build-oci.sh, which copies the same packages' files from
# this Debian host and runs `image.sh finish ROOTFS`). Add a tool here, not in either build.
#
#   image.sh packages      the Debian packages the image carries (one line)
#   image.sh binaries      their commands that must be on PATH in the image
#   image.sh finish ROOT   the node copy with cap_net_bind_service, user and group 65532
set -eu

# ip and iptables: for the agent's node networking (the link-local address, NOTRACK rules).
PACKAGES="iproute2 iptables"
BINARIES="/bin/ip /usr/sbin/iptables /usr/sbin/ip6tables /usr/sbin/iptables-save /usr/sbin/iptables-restore"

case "${1:-}" in
  packages) echo "$PACKAGES" ;;
  binaries) echo "$BINARIES" ;;
  finish)
    root=${2:?usage: image.sh finish ROOT}
    # node-netbind: a copy of node carrying the file capability cap_net_bind_service, used
    # only by the agent so it can bind port 53 as a non-root user. A separate copy, because a
    # binary with file capabilities cannot even be executed where the capability is not in
    # the bounding set (the controller drops ALL).
    cp "$root/usr/local/bin/node" "$root/usr/local/bin/node-netbind"
    setcap cap_net_bind_service=+ep "$root/usr/local/bin/node-netbind"
    grep -q '^dnssync:' "$root/etc/group" || echo 'dnssync:x:65532:' >>"$root/etc/group"
    grep -q '^dnssync:' "$root/etc/passwd" ||
      echo 'dnssync:x:65532:65532:dnssync:/nonexistent:/usr/sbin/nologin' >>"$root/etc/passwd"
    ;;
  *) echo "usage: image.sh packages|binaries|finish ROOT" >&2; exit 2 ;;
esac
