#ifndef REGISTRYD_UI_ASSETS_H
#define REGISTRYD_UI_ASSETS_H

#include <stddef.h>

/*
 * The web interface's files, built into the binary: at build time
 * scripts/ui-embed.sh turns every file of ui/ into build/gen/ui_assets.c,
 * which defines the table below. api_ui.c serves it.
 */
struct ui_asset {
	const char *ua_name;          /* file name under /ui/ */
	const char *ua_type;          /* Content-Type */
	const char *ua_etag;          /* ETag, unquoted: a SHA-256 prefix */
	const unsigned char *ua_data; /* the bytes */
	size_t ua_len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;

#endif /* REGISTRYD_UI_ASSETS_H */
