# llama_ui_stub.cmake — stands in for llama.cpp's scripts/ui-assets.cmake, which the trimmed peer source
# (llama-cpp-python 0.3.36's vendored llama.cpp) leaves out, so llama-server's build stopped at "Provisioning
# UI assets". It writes ui.h / ui.cpp with no assets: llama-server then builds without its web page (its
# HTTP API, which the serving sweep drives, is unchanged). Called with -P and the variables tools/ui passes.
file(WRITE "${UI_BINARY_DIR}/ui.h" "#pragma once
#include <cstddef>
#include <string>
#include <vector>
struct llama_ui_asset { std::string name; const unsigned char * data; size_t size; std::string type; std::string etag; };
const std::vector<llama_ui_asset> & llama_ui_get_assets();
const llama_ui_asset * llama_ui_find_asset(const std::string & name);
bool llama_ui_use_gzip();
")
file(WRITE "${UI_BINARY_DIR}/ui.cpp" "#include \"ui.h\"
const std::vector<llama_ui_asset> & llama_ui_get_assets() { static const std::vector<llama_ui_asset> none; return none; }
const llama_ui_asset * llama_ui_find_asset(const std::string &) { return nullptr; }
bool llama_ui_use_gzip() { return false; }
")
