// What the model's SQL differs in between PostgreSQL and SQLite.
#pragma once

#include <string>
#include <string_view>

namespace soci {
class session;
}

namespace asio_soci::detail {

enum class model_dialect { postgresql, sqlite };

/// The dialect of `sql`'s database; throws model_error for another backend.
model_dialect model_dialect_of(soci::session& sql);
/// `name` as a quoted identifier: "name", with " doubled.
std::string quote_identifier(std::string_view name);

}  // namespace asio_soci::detail
