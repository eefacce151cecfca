#include "resources/session.hpp"

namespace tasker::resources {

void apply_session_settings(pqxx::connection_base& conn) {
  conn.set_variable("jit", "off");
}

} // namespace tasker::resources
