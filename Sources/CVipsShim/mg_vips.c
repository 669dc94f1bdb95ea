#include "mg_vips.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

int mg_vips_start(void) {
    // One arena per thread would keep the peak of every libvips thread (STACK.md:
    // MALLOC_ARENA_MAX=2); this is the same setting, made from inside the process.
    mallopt(M_ARENA_MAX, 2);
    if (VIPS_INIT("mediagate")) {
        return -1;
    }
    // The operation cache keeps decoded images alive across requests (RSS grows by hundreds of MB).
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    // Parallelism comes from serving several images at once, not from threads per image.
    vips_concurrency_set(1);
    vips_block_untrusted_set(TRUE);
    return 0;
}

// A copy whose interpretation is one libvips can convert from (a thumbnail may say "multiband").
static int mg_sane(VipsImage *in, VipsImage **out) {
    return vips_copy(in, out, "interpretation", vips_image_guess_interpretation(in), NULL);
}

// Removes every metadata field (EXIF and its parsed tags, XMP, IPTC, ICC, comments) so that no
// saver can write them back, whatever its `strip` support.
static int mg_strip(VipsImage *in, VipsImage **out) {
    if (vips_copy(in, out, NULL)) return -1;
    gchar **fields = vips_image_get_fields(*out);
    static const char *prefixes[] = {"exif-", "xmp-", "iptc-", "ipct-", "icc-", "orientation", "png-comment",
                                     "gif-comment", "heif-", "jpeg-thumbnail", "resolution-unit", NULL};
    for (int i = 0; fields != NULL && fields[i] != NULL; i++) {
        for (int p = 0; prefixes[p] != NULL; p++) {
            if (g_str_has_prefix(fields[i], prefixes[p])) {
                vips_image_remove(*out, fields[i]);
                break;
            }
        }
    }
    g_strfreev(fields);
    return 0;
}

int mg_vips_read_header(const void *buffer, size_t length, mg_vips_header *header) {
    VipsImage *image = vips_image_new_from_buffer(buffer, length, "", "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    if (image == NULL) {
        return -1;
    }
    memset(header, 0, sizeof(*header));
    header->width = vips_image_get_width(image);
    header->height = vips_image_get_height(image);
    header->pages = vips_image_get_n_pages(image);
    header->orientation = vips_image_get_orientation(image);
    header->bands = vips_image_get_bands(image);
    header->has_icc = vips_image_get_typeof(image, VIPS_META_ICC_NAME) != 0;
    const char *loader = NULL;
    if (vips_image_get_string(image, VIPS_META_LOADER, &loader) == 0 && loader != NULL) {
        snprintf(header->loader, sizeof(header->loader), "%s", loader);
    }
    const char *interpretation = vips_enum_nick(VIPS_TYPE_INTERPRETATION, vips_image_guess_interpretation(image));
    snprintf(header->interpretation, sizeof(header->interpretation), "%s", interpretation ? interpretation : "");
    g_object_unref(image);
    return 0;
}

void *mg_vips_thumbnail(const void *buffer, size_t length, int width, int height, int through_profile) {
    VipsImage *out = NULL;
    int failed = through_profile
        ? vips_thumbnail_buffer((void *)buffer, length, &out, width, "height", height, "size", VIPS_SIZE_DOWN,
                                "export_profile", "srgb", "option_string", "fail_on=truncated", NULL)
        : vips_thumbnail_buffer((void *)buffer, length, &out, width, "height", height, "size", VIPS_SIZE_DOWN,
                                "option_string", "fail_on=truncated", NULL);
    return failed ? NULL : out;
}

// A white or black RGBA layer whose alpha is `mask` scaled by `opacity`.
static VipsImage *mg_layer(VipsObject *scope, VipsImage *mask, double level, double opacity) {
    VipsImage **t = (VipsImage **)vips_object_local_array(scope, 5);
    if (vips_black(&t[0], mask->Xsize, mask->Ysize, "bands", 3, NULL) ||
        vips_linear1(t[0], &t[1], 1.0, level, "uchar", TRUE, NULL) ||
        vips_linear1(mask, &t[2], opacity, 0.0, "uchar", TRUE, NULL) ||
        vips_bandjoin2(t[1], t[2], &t[3], NULL) ||
        vips_copy(t[3], &t[4], "interpretation", VIPS_INTERPRETATION_sRGB, NULL)) {
        return NULL;
    }
    return t[4];
}

void *mg_vips_watermark(void *image, const char *text, const char *font) {
    VipsImage *in = (VipsImage *)image;
    VipsObject *scope = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(scope, 8);
    VipsImage *out = NULL;
    if (text == NULL || text[0] == '\0') {
        g_object_unref(scope);
        g_object_ref(in);
        return in;
    }
    // Text about 4 % of the shorter edge high: pango sizes are points at `dpi`.
    int shorter = in->Xsize < in->Ysize ? in->Xsize : in->Ysize;
    int dpi = (int)(shorter * 0.04 / 12.0 * 72.0);
    if (dpi < 24) dpi = 24;
    char font_spec[128];
    snprintf(font_spec, sizeof(font_spec), "%s 12", font);
    int margin = shorter / 40 + 2;
    int shadow = shorter / 400 + 1;
    // The thumbnail streams its source top to bottom; compositing reads out of order, so
    // render it to memory first (2048 px at most: about 12 MB).
    VipsImage *memory = vips_image_copy_memory(in);
    if (memory == NULL) goto done;
    vips_object_local(scope, memory);
    if (mg_sane(memory, &t[6]) ||
        vips_colourspace(t[6], &t[0], VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_text(&t[1], text, "font", font_spec, "dpi", dpi, NULL)) {
        goto done;
    }
    VipsImage *dark = mg_layer(scope, t[1], 0.0, 0.45);
    VipsImage *light = mg_layer(scope, t[1], 255.0, 0.75);
    if (dark == NULL || light == NULL) goto done;
    int x = t[0]->Xsize - t[1]->Xsize - margin;
    int y = t[0]->Ysize - t[1]->Ysize - margin;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    int had_alpha = vips_image_hasalpha(t[0]);
    if (vips_composite2(t[0], dark, &t[2], VIPS_BLEND_MODE_OVER, "x", x + shadow, "y", y + shadow, NULL) ||
        vips_composite2(t[2], light, &t[3], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL)) {
        goto done;
    }
    // composite adds an alpha band; keep the input's band layout.
    if (had_alpha) {
        if (vips_cast(t[3], &t[4], VIPS_FORMAT_UCHAR, NULL)) goto done;
    } else {
        if (vips_extract_band(t[3], &t[4], 0, "n", 3, NULL)) goto done;
    }
    if (vips_cast(t[4], &t[5], VIPS_FORMAT_UCHAR, NULL)) goto done;
    out = t[5];
    g_object_ref(out);
done:
    g_object_unref(scope);
    return out;
}

int mg_vips_save(void *image, mg_vips_format format, int quality, int effort, void **output, size_t *output_length) {
    VipsImage *in = (VipsImage *)image;
    VipsObject *scope = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(scope, 5);
    int result = -1;
    *output = NULL;
    *output_length = 0;
    // 8-bit sRGB whatever came in (16-bit PNG, grey, CMYK already converted by the thumbnail),
    // with no metadata left to write.
    if (mg_sane(in, &t[3]) || vips_colourspace(t[3], &t[4], VIPS_INTERPRETATION_sRGB, NULL) ||
        mg_strip(t[4], &t[0])) goto done;
    VipsImage *ready = t[0];
    if (vips_image_get_format(ready) != VIPS_FORMAT_UCHAR) {
        if (vips_cast(ready, &t[1], VIPS_FORMAT_UCHAR, "shift", TRUE, NULL)) goto done;
        ready = t[1];
    }
    switch (format) {
    case MG_VIPS_JPEG: {
        VipsImage *opaque = ready;
        if (vips_image_hasalpha(ready)) {
            VipsArrayDouble *white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
            int failed = vips_flatten(ready, &t[2], "background", white, NULL);
            vips_area_unref(VIPS_AREA(white));
            if (failed) goto done;
            opaque = t[2];
        }
        result = vips_jpegsave_buffer(opaque, output, output_length, "Q", quality, "strip", TRUE,
                                      "optimize_coding", TRUE, "interlace", FALSE, NULL);
        break;
    }
    case MG_VIPS_WEBP:
        result = vips_webpsave_buffer(ready, output, output_length, "Q", quality, "strip", TRUE,
                                      "effort", effort > 6 ? 6 : effort, NULL);
        break;
    case MG_VIPS_AVIF:
        result = vips_heifsave_buffer(ready, output, output_length, "Q", quality, "strip", TRUE,
                                      "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", effort, NULL);
        break;
    case MG_VIPS_PNG:
        result = vips_pngsave_buffer(ready, output, output_length, "strip", TRUE, "compression", 6, NULL);
        break;
    }
done:
    g_object_unref(scope);
    return result;
}

void mg_vips_size(void *image, int *width, int *height) {
    VipsImage *in = (VipsImage *)image;
    *width = vips_image_get_width(in);
    *height = vips_image_get_height(in);
}

void mg_vips_release(void *image) {
    if (image != NULL) g_object_unref(image);
}

void mg_vips_free(void *bytes) {
    g_free(bytes);
}

void mg_vips_take_error(char *text, size_t size) {
    const char *buffer = vips_error_buffer();
    if (text != NULL && size > 0) {
        snprintf(text, size, "%s", buffer ? buffer : "");
    }
    vips_error_clear();
}

// Copies a string field (empty when absent).
static void mg_copy_field(VipsImage *image, const char *name, char *out, size_t size) {
    const char *value = NULL;
    out[0] = '\0';
    if (vips_image_get_typeof(image, name) != 0 && vips_image_get_string(image, name, &value) == 0 && value != NULL) {
        snprintf(out, size, "%s", value);
    }
}

int mg_vips_read_exif(const void *buffer, size_t length, mg_vips_exif *exif, void **icc, size_t *icc_length) {
    *icc = NULL;
    *icc_length = 0;
    VipsImage *image = vips_image_new_from_buffer(buffer, length, "", "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    if (image == NULL) {
        return -1;
    }
    memset(exif, 0, sizeof(*exif));
    mg_copy_field(image, "exif-ifd2-DateTimeOriginal", exif->taken_at, sizeof(exif->taken_at));
    mg_copy_field(image, "exif-ifd2-OffsetTimeOriginal", exif->offset_time, sizeof(exif->offset_time));
    if (exif->taken_at[0] == '\0') {
        // No capture time: the file's own time, with its own offset.
        mg_copy_field(image, "exif-ifd0-DateTime", exif->taken_at, sizeof(exif->taken_at));
        mg_copy_field(image, "exif-ifd2-OffsetTime", exif->offset_time, sizeof(exif->offset_time));
    }
    mg_copy_field(image, "exif-ifd3-GPSLatitude", exif->gps_latitude, sizeof(exif->gps_latitude));
    mg_copy_field(image, "exif-ifd3-GPSLatitudeRef", exif->gps_latitude_ref, sizeof(exif->gps_latitude_ref));
    mg_copy_field(image, "exif-ifd3-GPSLongitude", exif->gps_longitude, sizeof(exif->gps_longitude));
    mg_copy_field(image, "exif-ifd3-GPSLongitudeRef", exif->gps_longitude_ref, sizeof(exif->gps_longitude_ref));
    const void *data = NULL;
    size_t size = 0;
    if (vips_image_get_typeof(image, VIPS_META_ICC_NAME) != 0 &&
        vips_image_get_blob(image, VIPS_META_ICC_NAME, &data, &size) == 0 && size > 0) {
        *icc = g_malloc(size);
        memcpy(*icc, data, size);
        *icc_length = size;
    }
    g_object_unref(image);
    return 0;
}

int mg_vips_sample_pixels(const void *buffer, size_t length, int size, int through_profile, void **pixels, size_t *pixels_length, int *width, int *height) {
    *pixels = NULL;
    *pixels_length = 0;
    VipsImage *thumb = mg_vips_thumbnail(buffer, length, size, size, through_profile);
    if (thumb == NULL) {
        return -1;
    }
    VipsObject *scope = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(scope, 5);
    int result = -1;
    // Flatten transparency onto white, then 8-bit sRGB, three bands.
    VipsImage *flat = thumb;
    if (vips_image_hasalpha(thumb)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int failed = vips_flatten(thumb, &t[0], "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (failed) goto done;
        flat = t[0];
    }
    if (mg_sane(flat, &t[1]) || vips_colourspace(t[1], &t[2], VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_cast(t[2], &t[3], VIPS_FORMAT_UCHAR, NULL) || vips_extract_band(t[3], &t[4], 0, "n", 3, NULL)) {
        goto done;
    }
    *pixels = vips_image_write_to_memory(t[4], pixels_length);
    if (*pixels == NULL) goto done;
    *width = vips_image_get_width(t[4]);
    *height = vips_image_get_height(t[4]);
    result = 0;
done:
    g_object_unref(scope);
    g_object_unref(thumb);
    return result;
}
