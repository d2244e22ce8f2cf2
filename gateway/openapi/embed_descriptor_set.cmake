# cmake -DIN=set.pb -DOUT=file.cc -P embed_descriptor_set.cmake
# Writes admissions::openapi::internal::ProtoDescriptorSet() returning the bytes of IN.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])"
  "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
set(body "#include <string_view>\n\nnamespace admissions::openapi::internal {\n\n")
string(APPEND body "std::string_view ProtoDescriptorSet() {\n")
string(APPEND body "  static constexpr unsigned char kBytes[] = {\n${bytes}\n  };\n")
string(APPEND body "  return {reinterpret_cast<const char*>(kBytes), sizeof(kBytes)};\n}\n\n")
string(APPEND body "}  // namespace admissions::openapi::internal\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
