// migrator: applies a migration_set on one pooled connection, on the factory's workers.
#include "migrations_internal.hpp"

#include "../drivers/native_session.hpp"
#include "../logging.hpp"

#include <asio_soci/detail/transaction.hpp>
#include <asio_soci/errors.hpp>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_future.hpp>

#include <soci/soci.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace asio_soci {

std::string_view to_string(migration_status::state s) noexcept {
    switch (s) {
        case migration_status::state::applied:
            return "applied";
        case migration_status::state::pending:
            return "pending";
        case migration_status::state::changed:
            return "changed";
        case migration_status::state::missing:
            return "missing";
    }
    return "unknown";
}

namespace {

backend dialect_of(soci::session& sql) {
    const auto kind = detail::backend_of(sql);
    if (kind == backend::postgresql || kind == backend::sqlite3)
        return *kind;
    throw migration_error("migrations support PostgreSQL and SQLite, not " +
                          sql.get_backend_name() + " (it has no transactional DDL)");
}

struct recorded_row {
    std::string revision, name, checksum, applied_at;
};

// Holds PostgreSQL's session-level advisory lock for the version table while alive;
// released on every path (an open, failed transaction is rolled back first).
class advisory_lock {
public:
    advisory_lock(soci::session& sql, backend dialect, std::string_view table) : sql_(sql) {
        if (dialect != backend::postgresql)
            return;  // SQLite: each migration's BEGIN IMMEDIATE does it
        key_ = std::to_string(
            static_cast<long long>(detail::fnv1a(table, detail::fnv1a("asio_soci_migrations:"))));
        detail::execute_native(sql_, "SELECT pg_advisory_lock(" + key_ + ")");
        held_ = true;
    }
    ~advisory_lock() {
        if (!held_)
            return;
        try {
            detail::rollback_if_open(sql_);
            detail::execute_native(sql_, "SELECT pg_advisory_unlock(" + key_ + ")");
        } catch (...) {
            try {  // never leave the lock on a pooled connection
                detail::execute_native(sql_, "SELECT pg_advisory_unlock_all()");
            } catch (...) {
            }
        }
    }
    advisory_lock(const advisory_lock&) = delete;
    advisory_lock& operator=(const advisory_lock&) = delete;

private:
    soci::session& sql_;
    std::string key_;
    bool held_ = false;
};

// SQLite enforces foreign keys (when the application turned them on) at once, and a
// table rebuild (create, copy, drop, rename: docs/models.md) would trip them, or cascade a
// DROP's implicit DELETE into other tables. So, as SQLite's documentation prescribes,
// enforcement is off while a migration runs (it can only change outside a transaction)
// and the keys are checked before it commits.
class foreign_keys_off {
public:
    foreign_keys_off(soci::session& sql, backend dialect) : sql_(sql) {
        if (dialect != backend::sqlite3)
            return;
        int enforced = 0;
        sql_ << "PRAGMA foreign_keys", soci::into(enforced);
        if (enforced) {
            detail::execute_native(sql_, "PRAGMA foreign_keys = OFF");
            restore_ = true;
        }
    }
    ~foreign_keys_off() {
        if (restore_) {
            try {
                detail::execute_native(sql_, "PRAGMA foreign_keys = ON");
            } catch (...) {  // the connection is failing: it will be replaced
            }
        }
    }
    foreign_keys_off(const foreign_keys_off&) = delete;
    foreign_keys_off& operator=(const foreign_keys_off&) = delete;

    /// Throws migration_error when a row refers to nothing.
    void check() {
        if (!restore_)
            return;
        int violations = 0;
        sql_ << "SELECT count(*) FROM pragma_foreign_key_check", soci::into(violations);
        if (violations)
            throw migration_error(std::to_string(violations) +
                                  " rows would refer to rows that do not exist (PRAGMA "
                                  "foreign_key_check); rolled back, the database stays at the "
                                  "previous revision");
    }

private:
    soci::session& sql_;
    bool restore_ = false;
};

// The migrations of one set against the version table, on one connection.
class migration_engine {
public:
    migration_engine(soci::session& sql, const detail::migration_context& context)
        : sql_(sql),
          set_(context.migrations),
          table_(context.options.version_table),
          dialect_(dialect_of(sql)),
          logger_(detail::logger_or_default(context.logger)) {
        detail::check_table_name(table_);
    }

    std::vector<std::string> upgrade(std::string_view target) {
        advisory_lock lock{sql_, dialect_, table_};
        detail::execute_native(sql_, detail::version_table_ddl(dialect_, table_));
        refuse_mismatch(compare(read_rows()));
        std::vector<std::string> applied;
        const auto end = detail::target_position(set_, target);
        for (std::size_t k = 0; k < end; ++k) {
            const auto& m = set_.migrations()[k];
            const bool ran = in_transaction([&] {
                if (is_recorded(m.revision))
                    return false;  // another migrator applied it meanwhile (SQLite)
                apply(m);
                return true;
            });
            if (ran)
                applied.push_back(m.revision);
        }
        return applied;
    }

    std::vector<std::string> downgrade(std::string_view target) {
        advisory_lock lock{sql_, dialect_, table_};
        detail::execute_native(sql_, detail::version_table_ddl(dialect_, table_));
        const auto history = compare(read_rows());
        refuse_mismatch(history);
        const auto end = detail::target_position(set_, target);
        std::vector<const migration*> reverted;
        for (std::size_t k = set_.size(); k > end; --k) {
            const auto& m = set_.migrations()[k - 1];
            if (history[k - 1].status == migration_status::state::pending)
                continue;
            if (!m.downgrade_sql)
                throw migration_error("cannot downgrade below " + m.revision + ": " +
                                      m.file_name(true) + " does not exist; nothing was run");
            reverted.push_back(&m);
        }
        std::vector<std::string> done;
        for (const auto* m : reverted) {
            const bool ran = in_transaction([&] {
                if (!is_recorded(m->revision))
                    return false;  // another migrator reverted it meanwhile (SQLite)
                revert(*m);
                return true;
            });
            if (ran)
                done.push_back(m->revision);
        }
        return done;
    }

    std::optional<std::string> current() {
        std::optional<std::string> highest;
        for (const auto& row : read_rows())
            highest = row.revision;  // read_rows() sorts by number
        return highest;
    }

    std::vector<migration_status> history() { return compare(read_rows()); }

    std::vector<migration> pending() {
        std::vector<migration> result;
        const auto history = compare(read_rows());
        for (std::size_t k = 0; k < set_.size(); ++k) {
            if (history[k].status == migration_status::state::pending)
                result.push_back(set_.migrations()[k]);
        }
        return result;
    }

    void stamp(std::string_view revision) {
        advisory_lock lock{sql_, dialect_, table_};
        detail::execute_native(sql_, detail::version_table_ddl(dialect_, table_));
        const auto end = detail::target_position(set_, revision);
        in_transaction([&] {
            std::map<std::uint64_t, std::string> recorded;
            for (const auto& row : read_rows())
                recorded.emplace(detail::revision_number(row.revision), row.revision);
            for (const auto& [number, revision_text] : recorded) {
                if (number > end)
                    remove_row(revision_text);
            }
            for (std::size_t k = 0; k < end; ++k) {
                if (!recorded.contains(k + 1))
                    insert_row(set_.migrations()[k]);
            }
            logger_->info("migrations: stamped {} at {}", table_, revision);
            return true;
        });
    }

    repair_result repair() {
        advisory_lock lock{sql_, dialect_, table_};
        detail::execute_native(sql_, detail::version_table_ddl(dialect_, table_));
        repair_result result;
        in_transaction([&] {
            for (const auto& status : compare(read_rows())) {
                if (status.status == migration_status::state::changed) {
                    const auto& m = *set_.find(status.revision);
                    auto sum = m.checksum();
                    sql_ << "UPDATE " + table_ + " SET checksum = :c WHERE revision = :r",
                        soci::use(sum), soci::use(status.revision);
                    result.checksums_updated.push_back(status.revision);
                } else if (status.status == migration_status::state::missing) {
                    remove_row(status.revision);
                    result.rows_removed.push_back(status.revision);
                }
            }
            return true;
        });
        return result;
    }

    void verify() { refuse_mismatch(compare(read_rows())); }

private:
    // Runs `step` in a transaction (SQLite: BEGIN IMMEDIATE, which also serialises
    // concurrent migrators); commits when it returns true, rolls back otherwise.
    template <class Step>
    bool in_transaction(Step step) {
        foreign_keys_off keys{sql_, dialect_};
        detail::begin(sql_);
        try {
            const bool commit = step();
            if (commit) {
                keys.check();
                sql_.commit();
            } else
                sql_.rollback();
            return commit;
        } catch (...) {
            try {
                detail::rollback_if_open(sql_);
            } catch (...) {
            }
            throw;
        }
    }

    void run_script(const std::string& script, const std::string& file) {
        std::vector<sql_statement> statements;
        try {
            statements = split_sql_script(script, dialect_);
        } catch (const migration_error& e) {
            throw migration_error(file + ": " + e.what());
        }
        for (const auto& statement : statements) {
            try {
                detail::execute_native(sql_, statement.text);
            } catch (const soci::soci_error& e) {  // the statement follows, once
                throw migration_error(file + ", line " + std::to_string(statement.line) + ": " +
                                      detail::one_line(e.get_error_message()) +
                                      "; statement: " + detail::one_line(statement.text) +
                                      "; rolled back, the database stays at the previous revision");
            }
        }
    }

    void apply(const migration& m) {
        logger_->info("migrations: applying {}", m.file_name());
        run_script(m.upgrade_sql, m.file_name());
        insert_row(m);
    }

    void revert(const migration& m) {
        logger_->info("migrations: reverting {}", m.file_name(true));
        run_script(*m.downgrade_sql, m.file_name(true));
        remove_row(m.revision);
    }

    void insert_row(const migration& m) {
        auto sum = m.checksum();
        sql_
            << "INSERT INTO " + table_ +
                   " (revision, name, checksum, applied_at) VALUES (:r, :n, :c, CURRENT_TIMESTAMP)",
            soci::use(m.revision), soci::use(m.name), soci::use(sum);
    }

    void remove_row(const std::string& revision) {
        sql_ << "DELETE FROM " + table_ + " WHERE revision = :r", soci::use(revision);
    }

    bool is_recorded(const std::string& revision) {
        int count = 0;
        sql_ << "SELECT count(*) FROM " + table_ + " WHERE revision = :r", soci::use(revision),
            soci::into(count);
        return count > 0;
    }

    bool table_exists() {
        int count = 0;
        if (dialect_ == backend::postgresql) {
            sql_ << "SELECT count(*) FROM (SELECT to_regclass(:t) AS oid) AS t WHERE oid IS NOT "
                    "NULL",
                soci::use(table_), soci::into(count);
        } else {
            const auto dot = table_.find('.');
            const std::string schema = dot == std::string::npos ? "main" : table_.substr(0, dot);
            const std::string name = dot == std::string::npos ? table_ : table_.substr(dot + 1);
            sql_ << "SELECT count(*) FROM " + schema +
                        ".sqlite_master WHERE type = 'table' AND name = :n",
                soci::use(name), soci::into(count);
        }
        return count > 0;
    }

    // The version table's rows, by revision number; none when it does not exist yet.
    std::vector<recorded_row> read_rows() {
        std::vector<recorded_row> rows;
        if (!table_exists())
            return rows;
        soci::rowset<soci::row> result =
            (sql_.prepare
             << "SELECT revision, name, checksum, CAST(applied_at AS varchar(64)) FROM " + table_);
        for (const auto& row : result)
            rows.push_back({row.get<std::string>(0), row.get<std::string>(1),
                            row.get<std::string>(2), row.get<std::string>(3)});
        std::ranges::sort(
            rows, {}, [](const recorded_row& r) { return detail::revision_number(r.revision); });
        return rows;
    }

    // The set's revisions and the recorded ones, in order, with their states.
    std::vector<migration_status> compare(const std::vector<recorded_row>& rows) const {
        std::map<std::uint64_t, const recorded_row*> recorded;
        for (const auto& row : rows)
            recorded.emplace(detail::revision_number(row.revision), &row);
        std::vector<migration_status> result;
        for (const auto& m : set_.migrations()) {
            migration_status status{m.revision, m.name, migration_status::state::pending, {}};
            const auto it = recorded.find(detail::revision_number(m.revision));
            if (it != recorded.end()) {
                status.status = it->second->checksum == m.checksum()
                                    ? migration_status::state::applied
                                    : migration_status::state::changed;
                status.applied_at = it->second->applied_at;
                recorded.erase(it);
            }
            result.push_back(std::move(status));
        }
        for (const auto& [number, row] : recorded)  // above the set's head: no migration
            result.push_back(
                {row->revision, row->name, migration_status::state::missing, row->applied_at});
        return result;
    }

    // Throws migration_error describing the first mismatch (and how many there are).
    void refuse_mismatch(const std::vector<migration_status>& history) const {
        std::vector<std::string> problems;
        std::optional<std::string> first_pending;
        bool gap_reported = false;
        for (const auto& status : history) {
            const auto* m = set_.find(status.revision);
            switch (status.status) {
                case migration_status::state::pending:
                    if (!first_pending)
                        first_pending = m->file_name();
                    break;
                case migration_status::state::changed:
                    problems.push_back(m->file_name() +
                                       " changed after it was applied (checksum mismatch with " +
                                       table_ + "); restore the file, or run repair");
                    [[fallthrough]];  // applied, too: it may sit above a pending revision
                case migration_status::state::missing:
                    problems.push_back("revision " + status.revision + " (" + status.name +
                                       ") is recorded in " + table_ +
                                       " but there is no migration file for it; restore it, or run "
                                       "repair");
                    break;
                case migration_status::state::applied:
                    if (first_pending && !gap_reported) {
                        problems.push_back(*first_pending + " is pending but the later revision " +
                                           status.revision +
                                           " is applied (a gap); stamp or downgrade first");
                        gap_reported = true;
                    }
                    break;
            }
        }
        if (problems.empty())
            return;
        // Every problem, so that one round of fixes suffices.
        std::string message = "migrations refused: ";
        for (std::size_t i = 0; i < problems.size(); ++i)
            message += (i ? "; " : "") + problems[i];
        throw migration_error(message);
    }

    soci::session& sql_;
    const migration_set& set_;
    std::string table_;
    backend dialect_;
    std::shared_ptr<spdlog::logger> logger_;
};

// migration_options::wait_for_database: the delays between attempts to reach the
// database, until the wait is used up.
class database_wait {
public:
    database_wait(const session_factory& factory, std::chrono::milliseconds limit)
        : factory_(factory), deadline_(std::chrono::steady_clock::now() + limit) {}

    // After `failure` (a connection_error), how long to wait before the next attempt; or
    // nullopt: give up, `failure` is the answer.
    std::optional<std::chrono::milliseconds> next_delay(const std::exception& failure) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline_ - std::chrono::steady_clock::now());
        if (left <= std::chrono::milliseconds::zero())
            return std::nullopt;
        const auto delay = std::min(delay_, left);
        delay_ = std::min(delay_ * 2, max_delay);
        detail::logger_or_default(factory_.options().logger)
            ->info("asio_soci: waiting for the database to migrate it ({} ms left): {}",
                   left.count(), failure.what());
        return delay;
    }

private:
    static constexpr std::chrono::milliseconds max_delay{2000};
    const session_factory& factory_;
    const std::chrono::steady_clock::time_point deadline_;
    std::chrono::milliseconds delay_{250};
};

}  // namespace

migrator::migrator(session_factory factory, migration_set migrations, migration_options options)
    : factory_(std::move(factory)),
      migrations_(std::move(migrations)),
      options_(std::move(options)) {
    if (!factory_)
        throw std::invalid_argument("migrator: the session factory is empty");
    if (options_.wait_for_database < std::chrono::milliseconds::zero())
        throw std::invalid_argument("migration_options: wait_for_database must not be negative");
    detail::check_table_name(options_.version_table);
}

// The synchronous forms: the asynchronous ones, waited for.

std::vector<std::string> migrator::upgrade(std::string_view target) const {
    return async_upgrade(std::string(target), asio::use_future).get();
}
std::vector<std::string> migrator::downgrade(std::string_view target) const {
    return async_downgrade(std::string(target), asio::use_future).get();
}
std::optional<std::string> migrator::current() const {
    return async_current(asio::use_future).get();
}
std::vector<migration_status> migrator::history() const {
    return async_history(asio::use_future).get();
}
std::vector<migration> migrator::pending() const {
    return async_pending(asio::use_future).get();
}
void migrator::stamp(std::string_view revision) const {
    async_stamp(std::string(revision), asio::use_future).get();
}
repair_result migrator::repair() const {
    return async_repair(asio::use_future).get();
}
void migrator::verify() const {
    async_verify(asio::use_future).get();
}

std::vector<std::string> upgrade_to_head(const session_factory& factory,
                                         const migration_set& migrations,
                                         const migration_options& options) {
    return migrator{factory, migrations, options}.upgrade();
}

namespace detail {

std::vector<std::string> upgrade_step(soci::session& sql, const migration_context& context,
                                      const std::string& target) {
    return migration_engine{sql, context}.upgrade(target);
}
std::vector<std::string> downgrade_step(soci::session& sql, const migration_context& context,
                                        const std::string& target) {
    return migration_engine{sql, context}.downgrade(target);
}
std::optional<std::string> current_step(soci::session& sql, const migration_context& context,
                                        const std::string&) {
    return migration_engine{sql, context}.current();
}
std::vector<migration_status> history_step(soci::session& sql, const migration_context& context,
                                           const std::string&) {
    return migration_engine{sql, context}.history();
}
std::vector<migration> pending_step(soci::session& sql, const migration_context& context,
                                    const std::string&) {
    return migration_engine{sql, context}.pending();
}
void stamp_step(soci::session& sql, const migration_context& context, const std::string& revision) {
    migration_engine{sql, context}.stamp(revision);
}
repair_result repair_step(soci::session& sql, const migration_context& context,
                          const std::string&) {
    return migration_engine{sql, context}.repair();
}
void verify_step(soci::session& sql, const migration_context& context, const std::string&) {
    migration_engine{sql, context}.verify();
}

asio::awaitable<session> acquire_for_migrations(session_factory factory,
                                                migration_options options) {
    database_wait wait{factory, options.wait_for_database};
    for (;;) {
        std::exception_ptr failure;
        std::optional<std::chrono::milliseconds> delay;
        try {
            co_return co_await factory.async_acquire();
        } catch (const connection_error& e) {
            failure = std::current_exception();
            delay = wait.next_delay(e);
        }
        if (!delay)
            std::rethrow_exception(failure);
        asio::steady_timer timer{co_await asio::this_coro::executor, *delay};
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace detail

}  // namespace asio_soci
