#!/bin/sh
# Post-install for web2: runs inside the installed system.
set -eu
echo "web2" > /etc/hostname
echo "installed by netboot for 52:54:00:20:00:02" > /etc/motd
