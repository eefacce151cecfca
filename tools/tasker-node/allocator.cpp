#include "tools/tasker-node/commands.hpp"

#ifdef TASKER_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace tasker::tools {

std::string allocator_description() {
#ifdef TASKER_WITH_JEMALLOC
  const char* version = nullptr;
  std::size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr)
    return std::string{"jemalloc "} + version;
  return "jemalloc";
#else
  return "the C library's malloc";
#endif
}

} // namespace tasker::tools
