// Migration files: names, loading, validation, checksums, new files.
#include "migrations_internal.hpp"

#include "../logging.hpp"

#include <asio_soci/errors.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <system_error>
#include <utility>

namespace asio_soci {

namespace detail {

std::uint64_t fnv1a(std::string_view text, std::uint64_t hash) noexcept {
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

std::uint64_t revision_number(std::string_view revision) {
    std::uint64_t number = 0;
    const auto* end = revision.data() + revision.size();
    auto [ptr, ec] = std::from_chars(revision.data(), end, number);
    if (revision.empty() || ec != std::errc{} || ptr != end)
        throw migration_error("'" + std::string(revision) +
                              "' is not a revision (expected a number, 'base' or 'head')");
    return number;
}

std::size_t target_position(const migration_set& set, std::string_view target) {
    if (target == base_revision)
        return 0;
    if (target == head_revision)
        return set.size();
    const auto number = revision_number(target);
    if (number == 0 || number > set.size())
        throw migration_error(
            "unknown revision '" + std::string(target) + "' (the migrations go from " +
            (set.empty() ? std::string("nothing") : set.migrations().front().revision) + " to " +
            set.head() + ")");
    return static_cast<std::size_t>(number);
}

void check_table_name(std::string_view table) {
    static const std::regex identifier{"[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?"};
    if (!std::regex_match(table.begin(), table.end(), identifier))
        throw migration_error("invalid version table name '" + std::string(table) +
                              "' (letters, digits and '_', optionally schema.table)");
}

std::string version_table_ddl(backend dialect, std::string_view table) {
    const char* timestamp =
        dialect == backend::postgresql ? "timestamp with time zone" : "varchar(64)";
    return "CREATE TABLE IF NOT EXISTS " + std::string(table) +
           " (revision varchar(64) NOT NULL PRIMARY KEY, name varchar(255) NOT NULL, "
           "checksum varchar(64) NOT NULL, applied_at " +
           timestamp + " NOT NULL DEFAULT CURRENT_TIMESTAMP)";
}

std::string one_line(std::string_view text, std::size_t limit) {
    auto result = single_line(text);
    if (result.size() > limit)
        result = result.substr(0, limit) + "...";
    return result;
}

}  // namespace detail

namespace {

const std::regex& file_name_pattern() {
    static const std::regex pattern{"([0-9]+)_([A-Za-z0-9_-]+)\\.(up|down)\\.sql"};
    return pattern;
}

bool valid_name(std::string_view name) {
    return !name.empty() && std::ranges::all_of(name, [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-';
    });
}

}  // namespace

std::string migration::file_name(bool down) const {
    return revision + "_" + name + (down ? ".down.sql" : ".up.sql");
}

std::string migration::checksum() const {
    std::string normalized;
    normalized.reserve(upgrade_sql.size());
    for (std::size_t i = 0; i < upgrade_sql.size(); ++i) {
        if (!(upgrade_sql[i] == '\r' && i + 1 < upgrade_sql.size() && upgrade_sql[i + 1] == '\n'))
            normalized += upgrade_sql[i];
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(detail::fnv1a(normalized)));
    return hex;
}

migration_set::migration_set() : migrations_(std::make_shared<const std::vector<migration>>()) {}

migration_set::migration_set(std::vector<migration> migrations) {
    for (const auto& m : migrations) {
        if (!valid_name(m.name))
            throw migration_error("invalid migration name '" + m.name + "' for revision " +
                                  m.revision + " (letters, digits, '_' and '-')");
        detail::revision_number(m.revision);
    }
    std::ranges::stable_sort(
        migrations, {}, [](const migration& m) { return detail::revision_number(m.revision); });
    for (std::size_t k = 0; k < migrations.size(); ++k) {
        const auto number = detail::revision_number(migrations[k].revision);
        if (number == k + 1)
            continue;
        if (number == k)
            throw migration_error("duplicate revision " + migrations[k].revision + ": " +
                                  migrations[k - 1].file_name() + " and " +
                                  migrations[k].file_name());
        throw migration_error("gap in the migration numbering: revision " + std::to_string(k + 1) +
                              " is missing" +
                              (k == 0 ? std::string(" (numbering starts at 1)")
                                      : " (after " + migrations[k - 1].file_name() + ")") +
                              ", the next one is " + migrations[k].file_name());
    }
    migrations_ = std::make_shared<const std::vector<migration>>(std::move(migrations));
}

migration_set migration_set::from_files(std::span<const migration_file> files) {
    struct pair {
        std::string revision, name;
        const migration_file* up = nullptr;
        const migration_file* down = nullptr;
    };
    std::map<std::string, pair> by_file_stem;  // "0001_create_users"
    for (const auto& file : files) {
        std::cmatch match;
        if (!std::regex_match(file.name.begin(), file.name.end(), match, file_name_pattern()))
            throw migration_error(
                "bad migration file name '" + std::string(file.name) +
                "' (expected <number>_<name>.up.sql or <number>_<name>.down.sql)");
        auto& entry = by_file_stem[match[1].str() + "_" + match[2].str()];
        entry.revision = match[1].str();
        entry.name = match[2].str();
        (match[3].str() == "up" ? entry.up : entry.down) = &file;
    }
    std::vector<migration> migrations;
    for (const auto& [stem, entry] : by_file_stem) {
        if (!entry.up)
            throw migration_error(std::string(entry.down->name) + " has no matching " + stem +
                                  ".up.sql");
        migration m{entry.revision, entry.name, std::string(entry.up->content), std::nullopt};
        if (entry.down)
            m.downgrade_sql = std::string(entry.down->content);
        migrations.push_back(std::move(m));
    }
    return migration_set(std::move(migrations));
}

migration_set migration_set::from_directory(const std::filesystem::path& directory) {
    std::error_code ec;
    if (!std::filesystem::is_directory(directory, ec))
        throw migration_error("migrations directory '" + directory.string() + "' does not exist");
    std::vector<std::pair<std::string, std::string>> contents;
    for (const auto& item : std::filesystem::directory_iterator(directory)) {
        if (!item.is_regular_file() || item.path().extension() != ".sql")
            continue;
        std::ifstream in(item.path(), std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        if (!in)
            throw migration_error("cannot read " + item.path().string());
        contents.emplace_back(item.path().filename().string(), std::move(text).str());
    }
    std::vector<migration_file> files;
    for (const auto& [name, content] : contents)
        files.push_back({name, content});
    return from_files(files);
}

std::string migration_set::head() const {
    return empty() ? std::string(base_revision) : migrations_->back().revision;
}

const migration* migration_set::find(std::string_view revision) const {
    try {
        const auto position = detail::target_position(*this, revision);
        return position == 0 ? nullptr : &(*migrations_)[position - 1];
    } catch (const migration_error&) {
        return nullptr;
    }
}

std::filesystem::path create_migration_files(const std::filesystem::path& directory,
                                             std::string_view name) {
    if (!valid_name(name))
        throw migration_error("invalid migration name '" + std::string(name) +
                              "' (letters, digits, '_' and '-')");
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    const auto existing = migration_set::from_directory(directory);
    const std::size_t width =
        existing.empty() ? 4
                         : std::max<std::size_t>(4, existing.migrations().back().revision.size());
    auto number = std::to_string(existing.size() + 1);
    if (number.size() < width)
        number.insert(0, width - number.size(), '0');
    const migration created{number, std::string(name), {}, {}};
    for (bool down : {false, true}) {
        const auto path = directory / created.file_name(down);
        std::ofstream out(path, std::ios::binary);
        out << "-- " << created.file_name(down) << ": "
            << (down ? "undoes the upgrade script" : "statements separated by ';'") << "\n";
        if (!out)
            throw migration_error("cannot write " + path.string());
    }
    return directory / created.file_name();
}

}  // namespace asio_soci
