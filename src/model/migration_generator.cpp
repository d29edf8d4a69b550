// The models compared with a live database, and the migration made from the differences
// (model/autogenerate.hpp).
#include "schema_snapshot.hpp"

#include <asio_soci/model/autogenerate.hpp>

#include <soci/soci.h>
#include <asio/use_future.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <future>
#include <utility>

namespace asio_soci {

namespace {

using detail::model_dialect;
using detail::quote_identifier;
using detail::quoted_list;
using detail::schema_column;
using detail::schema_foreign_key;
using detail::schema_index;
using detail::schema_key;
using detail::schema_table;

// One difference and the statements that make it and undo it. On SQLite, what ALTER
// TABLE cannot do rebuilds the table instead, for all its changes at once.
struct change {
    std::string description;
    std::vector<std::string> up;
    std::vector<std::string> down;
    bool rebuilds = false;  // SQLite: only a table rebuild makes it
};

std::string list(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& n : names)
        joined += (joined.empty() ? "" : ", ") + n;
    return "(" + joined + ")";
}

std::string describe(const schema_foreign_key& key) {
    return "foreign key " + list(key.columns) + " -> " + key.table + " " +
           list(key.referred_columns) +
           (key.on_delete == "no action" ? "" : " on delete " + key.on_delete);
}

bool same_key(const schema_foreign_key& a, const schema_foreign_key& b) {
    return a.columns == b.columns && a.table == b.table &&
           a.referred_columns == b.referred_columns && a.on_delete == b.on_delete;
}

template <class T, class Same>
const T* find_in(const std::vector<T>& items, const T& wanted, Same same) {
    for (const auto& item : items)
        if (same(item, wanted))
            return &item;
    return nullptr;
}

bool in_any(const std::vector<std::string>& columns, const std::string& column) {
    return std::find(columns.begin(), columns.end(), column) != columns.end();
}

// Whether `column` of `table` takes part in a key or constraint, which SQLite's DROP
// COLUMN refuses.
bool constrained(const schema_table& table, const std::string& column) {
    if (in_any(table.primary_key.columns, column))
        return true;
    for (const auto& unique : table.uniques)
        if (in_any(unique.columns, column))
            return true;
    for (const auto& key : table.foreign_keys)
        if (in_any(key.columns, column))
            return true;
    return false;
}

class table_comparison {
public:
    table_comparison(const schema_table& model, const schema_table& database, model_dialect dialect)
        : model_(model),
          database_(database),
          dialect_(dialect),
          alter_(("alter table " + quote_identifier(model.name)) + " ") {}

    // In the order the up script runs them: what goes first (keys, indexes, columns the
    // models lack), then what comes (columns, then what refers to them).
    std::vector<change> changes() {
        foreign_keys_removed();
        indexes_removed();
        uniques_removed();
        primary_key_removed();
        columns_removed();
        columns_added();
        columns_changed();
        primary_key_added();
        uniques_added();
        indexes_added();
        foreign_keys_added();
        return std::move(changes_);
    }

private:
    bool pg() const { return dialect_ == model_dialect::postgresql; }

    void add(std::string description, std::vector<std::string> up, std::vector<std::string> down,
             bool rebuilds_on_sqlite) {
        changes_.push_back(
            {std::move(description), std::move(up), std::move(down), rebuilds_on_sqlite && !pg()});
    }

    std::string drop_constraint(const std::string& name) const {
        return alter_ + "drop constraint " + quote_identifier(name);
    }
    std::string add_constraint(const std::string& name, const std::string& body) const {
        return alter_ + "add constraint " + quote_identifier(name) + " " + body;
    }
    std::string drop_index(const schema_index& index) const {
        return "drop index " + quote_identifier(index.name);
    }
    std::string create_index(const schema_index& index) const {
        return index.definition.empty() ? detail::create_index_sql(index, model_.name, false)
                                        : index.definition;
    }
    std::string drop_column(const schema_column& column) const {
        return alter_ + "drop column " + quote_identifier(column.name);
    }
    std::string add_column(const schema_column& column) const {
        return alter_ + "add column " + detail::column_sql(column, dialect_, false);
    }

    // A unique constraint's body, after its name.
    std::string unique_body(const schema_key& key) const {
        return "unique (" + quoted_list(key.columns) + ")";
    }

    void foreign_keys_removed() {
        for (const auto& key : database_.foreign_keys)
            if (!find_in(model_.foreign_keys, key, same_key))
                add(describe(key) + " removed", {drop_constraint(key.name)},
                    {add_constraint(key.name, detail::foreign_key_sql(key))}, true);
    }
    void foreign_keys_added() {
        for (const auto& key : model_.foreign_keys)
            if (!find_in(database_.foreign_keys, key, same_key))
                add(describe(key) + " added",
                    {add_constraint(key.name, detail::foreign_key_sql(key))},
                    {drop_constraint(key.name)}, true);
    }

    static bool same_name(const schema_index& a, const schema_index& b) { return a.name == b.name; }
    static bool same_index(const schema_index& a, const schema_index& b) {
        return a.columns == b.columns && a.unique == b.unique;
    }
    void indexes_removed() {
        for (const auto& index : database_.indexes) {
            const auto* wanted = find_in(model_.indexes, index, same_name);
            if (!wanted)
                add("index " + index.name + " removed", {drop_index(index)}, {create_index(index)},
                    false);
            else if (!same_index(*wanted, index))
                add("index " + index.name + ": " + (wanted->unique ? "unique " : "") +
                        list(wanted->columns) + ", was " + (index.unique ? "unique " : "") +
                        list(index.columns),
                    {drop_index(index), create_index(*wanted)},
                    {drop_index(*wanted), create_index(index)}, false);
        }
    }
    void indexes_added() {
        for (const auto& index : model_.indexes)
            if (!find_in(database_.indexes, index, same_name))
                add("index " + index.name + " added", {create_index(index)}, {drop_index(index)},
                    false);
    }

    static bool same_columns(const schema_key& a, const schema_key& b) {
        return a.columns == b.columns;
    }
    void uniques_removed() {
        for (const auto& key : database_.uniques)
            if (!find_in(model_.uniques, key, same_columns))
                add("unique " + list(key.columns) + " removed", {drop_constraint(key.name)},
                    {add_constraint(key.name, unique_body(key))}, true);
    }
    void uniques_added() {
        for (const auto& key : model_.uniques)
            if (!find_in(database_.uniques, key, same_columns))
                add("unique " + list(key.columns) + " added",
                    {add_constraint(key.name, unique_body(key))}, {drop_constraint(key.name)},
                    true);
    }

    bool primary_key_differs() const {
        return model_.primary_key.columns != database_.primary_key.columns;
    }
    // A changed primary key: the database's goes first, the models' comes last.
    void primary_key_removed() {
        if (!primary_key_differs() || database_.primary_key.columns.empty())
            return;
        const auto& key = database_.primary_key;
        add("primary key " + list(key.columns) + " removed", {drop_constraint(key.name)},
            {add_constraint(key.name, "primary key (" + quoted_list(key.columns) + ")")}, true);
    }
    void primary_key_added() {
        if (!primary_key_differs() || model_.primary_key.columns.empty())
            return;
        const auto& key = model_.primary_key;
        add("primary key " + list(key.columns) + " added",
            {add_constraint(key.name, "primary key (" + quoted_list(key.columns) + ")")},
            {drop_constraint(key.name)}, true);
    }

    void columns_removed() {
        for (const auto& column : database_.columns)
            if (!model_.find(column.name))
                add("column " + column.name + " removed", {drop_column(column)},
                    {add_column(column)}, constrained(database_, column.name));
    }
    void columns_added() {
        for (const auto& column : model_.columns)
            if (!database_.find(column.name)) {
                // SQLite adds a column only if it may be NULL or has a default, and never
                // one of a key.
                const bool sqlite_can = (column.nullable || !column.default_sql.empty()) &&
                                        !column.identity && !constrained(model_, column.name);
                add("column " + column.name + " added", {add_column(column)}, {drop_column(column)},
                    !sqlite_can);
            }
    }
    void columns_changed() {
        for (const auto& column : model_.columns) {
            const auto* existing = database_.find(column.name);
            if (!existing)
                continue;
            const auto at = alter_ + "alter column " + quote_identifier(column.name) + " ";
            if (column.type != existing->type)
                add("column " + column.name + ": type " + column.type + ", was " + existing->type,
                    {at + "type " + column.type + " using " + quote_identifier(column.name) +
                     "::" + column.type},
                    {at + "type " + existing->type + " using " + quote_identifier(column.name) +
                     "::" + existing->type},
                    true);
            if (column.nullable != existing->nullable) {
                const auto set = at + "set not null", drop = at + "drop not null";
                add("column " + column.name +
                        (column.nullable ? ": nullable, was not null" : ": not null, was nullable"),
                    {column.nullable ? drop : set}, {column.nullable ? set : drop}, true);
            }
            // SQLite's identity is the rowid alias, which the primary key decides.
            if (pg() && column.identity != existing->identity) {
                const auto add_identity = at + "add generated by default as identity",
                           drop_identity = at + "drop identity";
                add("column " + column.name +
                        (column.identity ? ": identity, was not" : ": not identity, was"),
                    {column.identity ? add_identity : drop_identity},
                    {column.identity ? drop_identity : add_identity}, false);
            }
        }
    }

    const schema_table& model_;
    const schema_table& database_;
    model_dialect dialect_;
    std::string alter_;
    std::vector<change> changes_;
};

// SQLite's table rebuild, from `from` to `to`: a new table, the rows of the columns both
// have copied, the old one dropped, the new one renamed, its indexes created.
std::vector<std::string> rebuild(const schema_table& from, const schema_table& to) {
    const std::string temporary = "asio_soci_rebuild_" + to.name;
    auto create = detail::create_statements(to, model_dialect::sqlite, temporary, false);
    std::vector<std::string> kept;
    for (const auto& column : to.columns)
        if (from.find(column.name))
            kept.push_back(column.name);
    std::vector<std::string> statements{
        create.front(),
        "insert into " + quote_identifier(temporary) + " (" + quoted_list(kept) + ") select " +
            quoted_list(kept) + " from " + quote_identifier(from.name),
        "drop table " + quote_identifier(from.name),
        "alter table " + quote_identifier(temporary) + " rename to " + quote_identifier(to.name)};
    for (const auto& index : to.indexes)
        statements.push_back(index.definition.empty()
                                 ? detail::create_index_sql(index, to.name, false)
                                 : index.definition);
    return statements;
}

// The statements of both scripts, in the order each runs them, and the differences.
struct migration_plan {
    schema_comparison comparison;
    std::vector<std::vector<std::string>> up;    // groups, in order
    std::vector<std::vector<std::string>> down;  // groups, reversed when written
};

const schema_table* find_table(const std::vector<schema_table>& tables, std::string_view name) {
    for (const auto& t : tables)
        if (t.name == name)
            return &t;
    return nullptr;
}

migration_plan plan_migration(soci::session& sql, const metadata& models,
                              const autogenerate_options& options) {
    const auto dialect = detail::model_dialect_of(sql);
    const auto database = detail::inspect_schema(sql, dialect, options.migrations.version_table);
    migration_plan plan;
    auto& differences = plan.comparison.differences;
    auto record = [&](const std::string& table, const std::string& description) {
        differences.push_back({table, description});
    };

    const auto order = models.creation_order();
    // Tables the models add, in foreign-key order.
    for (const auto* table : order) {
        if (find_table(database, table->name))
            continue;
        const auto model = detail::expected_table(*table, dialect);
        record(table->name, "table " + table->name + " added");
        plan.up.push_back(detail::create_statements(model, dialect, model.name, false));
        plan.down.push_back({"drop table " + quote_identifier(model.name)});
    }
    // Tables both have, in the same order.
    for (const auto* table : order) {
        const auto* existing = find_table(database, table->name);
        if (!existing)
            continue;
        const auto model = detail::expected_table(*table, dialect);
        auto changes = table_comparison(model, *existing, dialect).changes();
        if (changes.empty())
            continue;
        for (const auto& c : changes)
            record(table->name, c.description);
        const bool rebuilt =
            std::any_of(changes.begin(), changes.end(), [](const change& c) { return c.rebuilds; });
        if (rebuilt) {
            plan.up.push_back(rebuild(*existing, model));
            plan.down.push_back(rebuild(model, *existing));
            continue;
        }
        std::vector<std::string> up, down;
        for (const auto& c : changes)
            up.insert(up.end(), c.up.begin(), c.up.end());
        for (auto c = changes.rbegin(); c != changes.rend(); ++c)
            down.insert(down.end(), c->down.begin(), c->down.end());
        plan.up.push_back(std::move(up));
        plan.down.push_back(std::move(down));
    }
    // Tables only the database has: reported; dropped when asked, last.
    for (const auto& table : database) {
        if (models.find(table.name))
            continue;
        plan.comparison.unknown_tables.push_back(table.name);
        if (!options.drop_unknown_tables)
            continue;
        record(table.name, "table " + table.name + " removed");
        plan.up.push_back({"drop table " + quote_identifier(table.name)});
        plan.down.push_back(detail::create_statements(table, dialect, table.name, false));
    }
    return plan;
}

// The statements, a blank line between tables.
std::string script(const std::vector<std::vector<std::string>>& groups, bool reversed) {
    std::string text;
    auto write = [&](const std::vector<std::string>& group) {
        if (!text.empty())
            text += "\n";
        for (const auto& statement : group)
            text += statement + ";\n";
    };
    if (reversed)
        std::for_each(groups.rbegin(), groups.rend(), write);
    else
        std::for_each(groups.begin(), groups.end(), write);
    return text;
}

std::string header(const generated_migration& migration, std::string_view dialect, bool down) {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char date[16];
    std::strftime(date, sizeof date, "%Y-%m-%d", &utc);
    std::string text = "-- Generated by asio-soci's autogenerate on " + std::string(date) +
                       ", from the models\n-- compared with a " + std::string(dialect) +
                       " database. Review it before applying it: a renamed\n"
                       "-- table or column appears as one dropped and one added, and the data "
                       "of what\n-- is dropped is lost.\n";
    text += down ? "-- Undoes:\n" : "-- Differences:\n";
    for (const auto& d : migration.comparison.differences)
        text += "--   " + d.table + ": " + d.description + "\n";
    return text + "\n";
}

template <class R, class Fn>
R on_connection(const session_factory& factory, Fn fn) {
    return as_future(factory, std::move(fn), asio::use_future).get();
}

}  // namespace

schema_comparison compare_models(soci::session& sql, const metadata& models,
                                 const autogenerate_options& options) {
    return plan_migration(sql, models, options).comparison;
}

generated_migration generate_migration(soci::session& sql, const metadata& models,
                                       const autogenerate_options& options) {
    auto plan = plan_migration(sql, models, options);
    generated_migration migration{std::move(plan.comparison), {}, {}};
    if (migration.comparison.up_to_date())
        return migration;
    const auto dialect = detail::model_dialect_of(sql) == model_dialect::postgresql
                             ? std::string_view("PostgreSQL")
                             : std::string_view("SQLite");
    migration.upgrade_sql = header(migration, dialect, false) + script(plan.up, false);
    migration.downgrade_sql = header(migration, dialect, true) + script(plan.down, true);
    return migration;
}

std::optional<std::filesystem::path> autogenerate_migration(const session_factory& factory,
                                                            const metadata& models,
                                                            const std::filesystem::path& directory,
                                                            std::string_view message,
                                                            const autogenerate_options& options) {
    const auto set = std::filesystem::exists(directory) ? migration_set::from_directory(directory)
                                                        : migration_set();
    const migrator migrations{factory, set, options.migrations};
    migrations.verify();
    if (const auto pending = migrations.pending(); !pending.empty())
        throw migration_error(std::to_string(pending.size()) + " migration" +
                              (pending.size() == 1 ? " is" : "s are") + " not applied (" +
                              pending.front().file_name() + (pending.size() > 1 ? ", ..." : "") +
                              "): upgrade first, so that the models are compared with the head");
    auto generate = [&models, &options](soci::session& sql) {
        return generate_migration(sql, models, options);
    };
    const auto migration = on_connection<generated_migration>(factory, generate);
    if (migration.comparison.up_to_date())
        return std::nullopt;
    const auto up = create_migration_files(directory, message);
    auto down = up;
    down.replace_filename(up.filename().string().substr(0, up.filename().string().size() -
                                                               std::string_view(".up.sql").size()) +
                          ".down.sql");
    std::ofstream(up, std::ios::trunc) << migration.upgrade_sql;
    std::ofstream(down, std::ios::trunc) << migration.downgrade_sql;
    return up;
}

schema_comparison check_models(const session_factory& factory, const metadata& models,
                               const autogenerate_options& options) {
    auto compare = [&models, &options](soci::session& sql) {
        return compare_models(sql, models, options);
    };
    return on_connection<schema_comparison>(factory, compare);
}

}  // namespace asio_soci
