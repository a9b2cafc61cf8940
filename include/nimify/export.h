// NIMIFY_EXPORT marks the symbols libnimify.so exports; everything else is hidden.
#ifndef NIMIFY_EXPORT_H_
#define NIMIFY_EXPORT_H_

#if defined(_WIN32)
#define NIMIFY_EXPORT
#else
#define NIMIFY_EXPORT [[gnu::visibility("default")]]
#endif

#endif  // NIMIFY_EXPORT_H_
