# cmake -DINPUT=file -DOUTPUT=file.cc -DSYMBOL=Name -P EmbedFile.cmake
# Writes a C++ source defining `std::string_view vigil::<SYMBOL>()` over the
# bytes of INPUT, so a binary carries a file it must never be without.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){24})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by cmake/EmbedFile.cmake. Do not edit.\n#include <string_view>\n\nnamespace vigil {\nnamespace {\nalignas(8) const unsigned char kData[${size} + 1] = {\n${bytes}\n0};\n}  // namespace\n\nstd::string_view ${SYMBOL}() {\n  return std::string_view(reinterpret_cast<const char*>(kData), ${size});\n}\n\n}  // namespace vigil\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
