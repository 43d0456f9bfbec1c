#!/bin/sh
# Post-install for {{ host }}: runs inside the installed system.
set -eu
echo "{{ host }}" > /etc/hostname
echo "installed by netboot for {{ mac }}" > /etc/motd
