// mediagate's fixed-arity wrappers over libvips (Swift cannot call C variadic functions).
// Images are opaque pointers: Swift never sees a libvips type. Every function that returns an
// image returns a new reference (release it with mg_vips_release) or NULL on failure; after a
// failure, read the error text with mg_vips_take_error at once (libvips keeps it per process).
#ifndef MG_VIPS_H
#define MG_VIPS_H

#include <stddef.h>

/// What a header-only load tells about an encoded image.
typedef struct {
    int width;
    int height;
    /// Frames or pages (1 for a still image).
    int pages;
    /// EXIF orientation 1...8 (1 when absent).
    int orientation;
    int bands;
    /// Whether an ICC profile is embedded.
    int has_icc;
    /// The loader libvips chose (e.g. "jpegload_buffer").
    char loader[48];
    /// The interpretation, e.g. "srgb", "cmyk", "b-w".
    char interpretation[24];
} mg_vips_header;

/// EXIF fields of a source, as libvips reports them ("2023:07:14 09:41:27 (…)", "43/1 11/1
/// 1248/25 (…)"); empty when absent.
typedef struct {
    char taken_at[64];
    char offset_time[32];
    char gps_latitude[96];
    char gps_latitude_ref[32];
    char gps_longitude[96];
    char gps_longitude_ref[32];
} mg_vips_exif;

/// Output formats of mg_vips_save.
typedef enum {
    MG_VIPS_JPEG = 0,
    MG_VIPS_WEBP = 1,
    MG_VIPS_AVIF = 2,
    MG_VIPS_PNG = 3
} mg_vips_format;

/// Starts libvips once per process: at most 2 malloc arenas, operation cache off, one worker
/// thread per image, untrusted loaders (svg, pdf, magick, jxl, jp2k, …) blocked. Returns 0 on
/// success.
int mg_vips_start(void);

/// Reads only the header of an encoded image. Returns 0 on success.
int mg_vips_read_header(const void *buffer, size_t length, mg_vips_header *header);

/// Reads EXIF fields and the embedded ICC profile (copied to *icc, free with mg_vips_free;
/// NULL when none) from the header. Returns 0 on success.
int mg_vips_read_exif(const void *buffer, size_t length, mg_vips_exif *exif, void **icc, size_t *icc_length);

/// Decodes a small upright sRGB rendering (at most size x size) and copies its 8-bit RGB
/// pixels to *pixels (free with mg_vips_free). Returns 0 on success.
int mg_vips_sample_pixels(const void *buffer, size_t length, int size, int through_profile, void **pixels, size_t *pixels_length, int *width, int *height);

/// Decodes page 0 of an encoded image, shrunk to fit width x height (never enlarged), with the
/// EXIF orientation applied. With `through_profile`, the colours are converted to sRGB through
/// the embedded ICC profile (or libvips' CMYK one): pass it for images with a profile and for
/// CMYK; an untagged RGB image is sRGB already, and a profile transform would shift its colours.
/// A truncated input fails, at the latest when the image is saved.
void *mg_vips_thumbnail(const void *buffer, size_t length, int width, int height, int through_profile);

/// Draws `text` (UTF-8) in the lower right corner, white over a dark shadow, sized to the image.
void *mg_vips_watermark(void *image, const char *text, const char *font);

/// Encodes an image without any metadata (EXIF, XMP, IPTC, ICC), as 8-bit sRGB; JPEG output
/// is flattened onto white. `effort` is used by AVIF (0 fastest ... 9) and WebP (0 ... 6).
/// The bytes go to *output (free them with mg_vips_free). Returns 0 on success.
int mg_vips_save(void *image, mg_vips_format format, int quality, int effort, void **output, size_t *output_length);

/// The width and height of a decoded image.
void mg_vips_size(void *image, int *width, int *height);

/// Releases an image reference.
void mg_vips_release(void *image);

/// Frees bytes from mg_vips_save.
void mg_vips_free(void *bytes);

/// Copies libvips' error text into `text` (at most `size` bytes, NUL-terminated) and clears it.
void mg_vips_take_error(char *text, size_t size);

#endif
