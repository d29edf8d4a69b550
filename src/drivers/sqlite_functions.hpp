// SQL functions asio-soci registers on SQLite connections.
#pragma once

namespace soci {
class session;
}

namespace asio_soci::detail {

/// Registers asio_soci_unhex(text) on the SQLite connection of `sql`: the bytes that
/// model_hex() wrote (\x and hex), as a BLOB (SQLite 3.40 has no unhex()). The pool
/// registers it on every connection it opens; the models' statements on a session of
/// the caller's own. Throws soci_error if SQLite refuses.
void register_sqlite_functions(soci::session& sql);

}  // namespace asio_soci::detail
