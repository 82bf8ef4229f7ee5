# The exact Xen source the series applies to: Debian 12's main archive.
# shellcheck shell=bash
XEN_DEB_VERSION=4.17.5+72-g01140da4e8-1
XEN_DEB_MIRROR=${IOB_DEB_MIRROR:-http://deb.debian.org/debian}
XEN_SRC_LIST=${IOB_XEN_SRC_LIST:-/etc/apt/sources.list.d/iommubench-xen-src.sources}
XEN_SHA256=(
	"f13956b67fb7a65707c2b0620d89b41ee5d203434dd7bb913017356791ee66c1  xen_4.17.5+72-g01140da4e8-1.dsc"
	"53922f4d0a02c577f2ea9d63f65989cd88715779eebeed879ca1d314103ee06e  xen_4.17.5+72-g01140da4e8.orig.tar.xz"
	"5bcf3812c64585e270e0b3fa6ee8fd16dff7b9bc0f61375d648c64672484c4d9  xen_4.17.5+72-g01140da4e8-1.debian.tar.xz"
)
