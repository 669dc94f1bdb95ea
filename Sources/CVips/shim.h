// libvips for the CVipsShim C target only; Swift code imports CVipsShim, never this.
#include <vips/vips.h>
