#!/bin/sh
# Post-install for web1: runs inside the installed system.
set -eu
echo "web1" > /etc/hostname
echo "installed by netboot for 52:54:00:20:00:01" > /etc/motd
