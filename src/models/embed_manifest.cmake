# Writes OUTPUT: the bytes of INPUT as the C string swapline::models::kEmbeddedManifestJson
# (hex escapes, so no character of the file can end the literal).
file(READ ${INPUT} bytes HEX)
string(REGEX REPLACE "(..)" "\\\\x\\1" escaped "${bytes}")
file(WRITE ${OUTPUT} "// Generated from models.json by embed_manifest.cmake.\nnamespace swapline::models {\nextern const char kEmbeddedManifestJson[];\nconst char kEmbeddedManifestJson[] = \"${escaped}\";\n}  // namespace swapline::models\n")
