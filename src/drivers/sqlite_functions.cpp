#include "sqlite_functions.hpp"

#include <asio_soci/detail/model_values.hpp>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>  // declares sqlite3's API in namespace sqlite_api

#include <cstddef>
#include <exception>
#include <string>

namespace asio_soci::detail {

using namespace sqlite_api;

namespace {

void unhex(sqlite3_context* context, int, sqlite3_value** arguments) {
    if (sqlite3_value_type(arguments[0]) == SQLITE_NULL) {
        sqlite3_result_null(context);
        return;
    }
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(arguments[0]));
    const auto size = static_cast<std::size_t>(sqlite3_value_bytes(arguments[0]));
    try {
        const auto bytes = model_unhex("", std::string(text ? text : "", size), false);
        if (bytes.empty())
            sqlite3_result_zeroblob(context, 0);  // an empty BLOB, not NULL
        else
            sqlite3_result_blob64(context, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    } catch (const std::exception& e) {
        sqlite3_result_error(context, e.what(), -1);
    }
}

}  // namespace

void register_sqlite_functions(soci::session& sql) {
    auto* db = static_cast<soci::sqlite3_session_backend*>(sql.get_backend())->conn_;
    const int result =
        sqlite3_create_function_v2(db, "asio_soci_unhex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   nullptr, &unhex, nullptr, nullptr, nullptr);
    if (result != SQLITE_OK)
        throw soci::soci_error(std::string("cannot register asio_soci_unhex: ") +
                               sqlite3_errstr(result));
}

}  // namespace asio_soci::detail
