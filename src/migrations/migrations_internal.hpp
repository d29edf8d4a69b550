// Helpers shared by the migration sources; not installed.
#pragma once

#include <asio_soci/migrations.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace asio_soci::detail {

/// FNV-1a, 64 bits.
std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 14695981039346656037ull) noexcept;

/// The number of a revision ("0007" -> 7); throws migration_error when it is not one.
std::uint64_t revision_number(std::string_view revision);

/// How many migrations of `set` are applied at `target`: 0 for base, size() for head,
/// k for the k-th revision; throws migration_error naming an unknown target.
std::size_t target_position(const migration_set& set, std::string_view target);

/// Throws migration_error unless `table` is a plain or schema-qualified identifier.
void check_table_name(std::string_view table);

/// `CREATE TABLE IF NOT EXISTS` for the version table.
std::string version_table_ddl(backend dialect, std::string_view table);

/// Collapses runs of whitespace into one space and cuts `text` to `limit` characters,
/// for one-line messages.
std::string one_line(std::string_view text, std::size_t limit = 300);

}  // namespace asio_soci::detail
