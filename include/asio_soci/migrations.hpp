// Migrations: versioned schema changes, applied from a directory of SQL files or from
// files embedded in the binary (see docs/migrations.md).
#pragma once

#include <asio_soci/database_url.hpp>
#include <asio_soci/detail/offload_traits.hpp>
#include <asio_soci/detail/session_call.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/session_factory.hpp>

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace soci {
class session;
}

namespace spdlog {
class logger;
}

namespace asio_soci {

/// The revision before the first migration: an empty schema.
inline constexpr std::string_view base_revision = "base";
/// The last migration of a set.
inline constexpr std::string_view head_revision = "head";

// --- SQL scripts -------------------------------------------------------------------------

/// One statement of a script, without its terminating semicolon.
struct sql_statement {
    std::string text;
    std::size_t line = 1;  ///< line of the script on which the statement starts (1-based)

    friend bool operator==(const sql_statement&, const sql_statement&) = default;
};

/// Splits a multi-statement script into its statements, for `dialect`.
///
/// A semicolon ends a statement except inside 'strings' (with '' and, for PostgreSQL's
/// E'...', backslash escapes), "quoted identifiers", `backticks` and [brackets]
/// (SQLite, MySQL), -- and /* */ comments (nested on PostgreSQL), PostgreSQL
/// $tag$dollar-quoted$tag$ bodies, and the BEGIN ... END body of a CREATE TRIGGER
/// (SQLite) or of a CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC (PostgreSQL), where
/// CASE ... END pairs are counted. Statements that hold only whitespace and comments
/// are dropped; the others are returned trimmed, comments kept.
///
/// Throws migration_error naming the line for an unterminated string, identifier,
/// comment, dollar quote or trigger body.
std::vector<sql_statement> split_sql_script(std::string_view script, backend dialect);

// --- Migrations --------------------------------------------------------------------------

/// One revision: `<revision>_<name>.up.sql` and, optionally, `<revision>_<name>.down.sql`.
struct migration {
    std::string revision;  ///< the number as written in the file name, e.g. "0001"
    std::string name;      ///< e.g. "create_users"
    std::string upgrade_sql;
    std::optional<std::string> downgrade_sql;

    /// "0001_create_users.up.sql" (down: the downgrade script's name).
    std::string file_name(bool down = false) const;
    /// A checksum of the upgrade script (FNV-1a 64 over its text with CR LF read as LF),
    /// as 16 hex digits: an applied migration whose file changed since is refused.
    std::string checksum() const;
};

/// A migration file as read from a directory or embedded: its name and its content.
struct migration_file {
    std::string_view name;
    std::string_view content;
};

/// An ordered, validated list of migrations. Cheap to copy (copies share the list).
///
/// File names are `<digits>_<name>.up.sql` and `<digits>_<name>.down.sql`, the name
/// made of letters, digits, '_' and '-'. Revisions are numbered 1, 2, 3, ... with no
/// gap and no duplicate; every revision has an up script, the down script is optional.
/// Other `.sql` names are refused; files that do not end in `.sql` are ignored.
class migration_set {
public:
    /// An empty set.
    migration_set();
    /// Validates and sorts `migrations`; throws migration_error.
    explicit migration_set(std::vector<migration> migrations);

    /// Reads `directory`; throws migration_error (bad names, gaps, unreadable files).
    static migration_set from_directory(const std::filesystem::path& directory);
    /// Builds a set from files held in memory (asio_soci_embed_migrations() uses it).
    static migration_set from_files(std::span<const migration_file> files);

    const std::vector<migration>& migrations() const noexcept { return *migrations_; }
    std::size_t size() const noexcept { return migrations_->size(); }
    bool empty() const noexcept { return migrations_->empty(); }
    /// The last revision, or base_revision for an empty set.
    std::string head() const;
    /// The migration with this revision (base/head resolved; "1" finds "0001"), or null.
    const migration* find(std::string_view revision) const;

private:
    std::shared_ptr<const std::vector<migration>> migrations_;
};

/// Creates the next numbered pair `<n>_<name>.up.sql` / `.down.sql` in `directory` (made
/// if missing), with 4 digits unless the existing files use more, and returns the path
/// of the up script. Throws migration_error for a bad name or an invalid directory.
std::filesystem::path create_migration_files(const std::filesystem::path& directory,
                                             std::string_view name);

// --- Applying them -----------------------------------------------------------------------

struct migration_options {
    /// The version table (revision, name, checksum, applied_at); created when missing.
    /// Letters, digits and '_', optionally schema-qualified ("app.schema_versions").
    std::string version_table = "asio_soci_migrations";
    /// How long to keep trying while the database cannot be reached (connection_error),
    /// with backoff from 250 ms doubling to 2 s, each retry logged at info level; for a
    /// server started next to its database (systemd, compose), which must not exit
    /// because the database is not up yet. Zero (the default): fail at once.
    std::chrono::milliseconds wait_for_database{0};
};

/// A revision as history() reports it.
struct migration_status {
    enum class state {
        applied,  ///< recorded in the version table, file unchanged
        pending,  ///< not applied yet
        changed,  ///< applied, but the up script changed since (checksum mismatch)
        missing,  ///< recorded in the version table, but no such migration exists
    };
    std::string revision;  ///< "0001": from the file, or as recorded when it is missing
    std::string name;      ///< "create_users": from the file, or as recorded
    state status = state::pending;
    std::optional<std::string> applied_at;  ///< as the database prints it
};

std::string_view to_string(migration_status::state s) noexcept;

/// What repair() changed.
struct repair_result {
    std::vector<std::string> checksums_updated;  ///< revisions re-recorded with the files' sums
    std::vector<std::string> rows_removed;       ///< revisions removed: no migration for them
};

class migrator;

namespace detail {

/// What a migrator operation uses on the workers: copies, so that an asynchronous one
/// may outlive its migrator.
struct migration_context {
    migration_set migrations;
    migration_options options;
    std::shared_ptr<spdlog::logger> logger;
};

/// One operation of the migrator: a compiled step (src/migrations/migrator.cpp) and its
/// argument (a revision, or nothing), run on a pooled connection.
template <class R>
struct migration_job {
    R (*step)(soci::session&, const migration_context&, const std::string&);
    migration_context context;
    std::string argument;

    R operator()(soci::session& sql) const { return step(sql, context, argument); }
};

// The steps. Each runs on one connection and manages its own transactions.
std::vector<std::string> upgrade_step(soci::session&, const migration_context&,
                                      const std::string& target);
std::vector<std::string> downgrade_step(soci::session&, const migration_context&,
                                        const std::string& target);
std::optional<std::string> current_step(soci::session&, const migration_context&,
                                        const std::string&);
std::vector<migration_status> history_step(soci::session&, const migration_context&,
                                           const std::string&);
std::vector<migration> pending_step(soci::session&, const migration_context&, const std::string&);
void stamp_step(soci::session&, const migration_context&, const std::string& revision);
repair_result repair_step(soci::session&, const migration_context&, const std::string&);
void verify_step(soci::session&, const migration_context&, const std::string&);

/// A connection for a migrator operation, waiting for the database as long as
/// migration_options::wait_for_database says.
asio::awaitable<session> acquire_for_migrations(session_factory factory, migration_options options);

/// Every migrator operation: acquire, then run the job as a transaction-control call
/// (never autobegun, never interrupted once started).
template <class R>
asio::awaitable<R> run_migration_job(session_factory factory, migration_job<R> job) {
    // Any cancellation type reaches the acquisition; the call itself ignores it once
    // started (see migrator).
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    auto s = co_await acquire_for_migrations(std::move(factory), job.context.options);
    co_return co_await async_session_call(s, std::move(job), asio::use_awaitable,
                                          session_call::transaction_control);
}

/// Runs a migration job in a coroutine on the handler's associated executor (the
/// factory's workers when it has none), so that its operations belong to the caller's
/// execution context and end with it on shutdown, like every other operation.
struct initiate_migration_job {
    template <class Handler, class R>
    void operator()(Handler handler, session_factory factory, migration_job<R> job) const {
        auto run = run_migration_job<R>(factory, std::move(job));
        using executor = asio::associated_executor_t<Handler, session_factory::executor_type>;
        // An executor that is no I/O executor (use_future's runs inline): the workers.
        if constexpr (std::is_convertible_v<executor, asio::any_io_executor>)
            asio::co_spawn(asio::get_associated_executor(handler, factory.get_executor()),
                           std::move(run), std::move(handler));
        else
            asio::co_spawn(factory.get_executor(), std::move(run), std::move(handler));
    }
};

}  // namespace detail

/// Applies a migration_set to the database of a session factory.
///
/// Every database operation runs on one pooled connection, on the factory's workers.
/// Each has an asynchronous form, async_...(arguments..., token), that takes any Asio
/// completion token (use_awaitable by default), and a synchronous form that blocks the
/// calling thread until it is done (never call those on a thread that runs an
/// io_context, nor on a worker of the factory).
///
/// Each migration runs in its own transaction (PostgreSQL and SQLite have transactional
/// DDL), together with its version-table row: a failure rolls that migration back, the
/// database stays at the previous revision, and migration_error names the file, the
/// line and the failing statement. Concurrent migrators are safe: on PostgreSQL the
/// whole operation holds pg_advisory_lock (always released, even on failure); on
/// SQLite each migration's transaction is BEGIN IMMEDIATE and re-reads the version
/// table, so a revision is applied exactly once.
///
/// upgrade(), downgrade() and verify() refuse, with migration_error, a database whose
/// applied migrations do not match the set: a changed applied file (checksum), an
/// applied revision with no migration, or a pending revision below an applied one.
/// repair() and stamp() are the explicit ways out.
///
/// The asynchronous forms:
/// Completion signature: void(std::exception_ptr, R) with R the synchronous form's
/// result, or void(std::exception_ptr) where it returns nothing.
/// Executor: the handler's associated I/O executor, where the operation also runs (it
/// only waits there), so that it ends with that executor's context on shutdown; without
/// one (a plain callback, use_future), a worker of the factory.
/// Cancellation (e.g. `co_await (m.async_upgrade() || timer)`): while waiting for a
/// connection (or for the database, see migration_options::wait_for_database), any
/// type; nothing runs and the operation completes with operation_aborted. Once the
/// work has started on the connection it is not interrupted: it runs to its real
/// outcome (each migration commits or rolls back as a whole), which is then delivered,
/// so a migration is never left half applied and "aborted" always means that nothing
/// ran.
/// Lifetimes: each operation keeps copies of what it needs; the migrator may be
/// destroyed while one runs.
class migrator {
public:
    migrator(session_factory factory, migration_set migrations, migration_options options = {});

    /// Applies the pending migrations up to `target` (a revision or head_revision);
    /// returns the revisions applied, in order (empty: nothing to do).
    std::vector<std::string> upgrade(std::string_view target = head_revision) const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_upgrade(std::string target = std::string(head_revision),
                       CompletionToken&& token = {}) const {
        return run(&detail::upgrade_step, std::move(target), std::forward<CompletionToken>(token));
    }

    /// Runs the down scripts of the applied revisions above `target` (a revision or
    /// base_revision), newest first; returns them. Refuses, before running anything, when
    /// one of them has no down script.
    std::vector<std::string> downgrade(std::string_view target) const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_downgrade(std::string target, CompletionToken&& token = {}) const {
        return run(&detail::downgrade_step, std::move(target),
                   std::forward<CompletionToken>(token));
    }

    /// The highest applied revision, or nullopt at base.
    std::optional<std::string> current() const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_current(CompletionToken&& token = {}) const {
        return run(&detail::current_step, {}, std::forward<CompletionToken>(token));
    }

    /// Every revision of the set and every recorded one, in order, with its state.
    std::vector<migration_status> history() const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_history(CompletionToken&& token = {}) const {
        return run(&detail::history_step, {}, std::forward<CompletionToken>(token));
    }

    /// The revisions upgrade() would apply.
    std::vector<migration> pending() const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_pending(CompletionToken&& token = {}) const {
        return run(&detail::pending_step, {}, std::forward<CompletionToken>(token));
    }

    /// Records the database as being at `revision` without running anything: rows for
    /// the revisions up to it are added (with the files' checksums), rows above it are
    /// removed. base_revision empties the version table.
    void stamp(std::string_view revision) const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_stamp(std::string revision, CompletionToken&& token = {}) const {
        return run(&detail::stamp_step, std::move(revision), std::forward<CompletionToken>(token));
    }

    /// Re-records the checksums of changed applied files and removes rows of revisions
    /// that have no migration.
    repair_result repair() const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_repair(CompletionToken&& token = {}) const {
        return run(&detail::repair_step, {}, std::forward<CompletionToken>(token));
    }

    /// Throws migration_error when upgrade() would refuse the database.
    void verify() const;
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_verify(CompletionToken&& token = {}) const {
        return run(&detail::verify_step, {}, std::forward<CompletionToken>(token));
    }

    const session_factory& factory() const noexcept { return factory_; }
    const migration_set& migrations() const noexcept { return migrations_; }
    const migration_options& options() const noexcept { return options_; }

private:
    template <class R, class CompletionToken>
    auto run(R (*step)(soci::session&, const detail::migration_context&, const std::string&),
             std::string argument, CompletionToken&& token) const {
        return asio::async_initiate<CompletionToken, typename detail::offload_signature<R>::type>(
            detail::initiate_migration_job{}, token, factory_,
            detail::migration_job<R>{
                step, {migrations_, options_, factory_.options().logger}, std::move(argument)});
    }

    session_factory factory_;
    migration_set migrations_;
    migration_options options_;
};

/// Offline mode: the SQL that upgrade() would run to go from `from` (a revision or
/// base_revision) to `to`, for `dialect`, with version-table bookkeeping and one
/// BEGIN/COMMIT per migration. Touches no database.
std::string offline_upgrade_sql(const migration_set& migrations, backend dialect,
                                std::string_view from = base_revision,
                                std::string_view to = head_revision,
                                const migration_options& options = {});
/// Offline mode: the SQL that downgrade() would run to go from `from` (the revision the
/// database is assumed to be at; head by default) down to `to`. Note the order: `to`
/// comes first, as in migrator::downgrade(to), because it is required and `from` is
/// not (offline_upgrade_sql's `from` and `to` both have defaults).
std::string offline_downgrade_sql(const migration_set& migrations, backend dialect,
                                  std::string_view to, std::string_view from = head_revision,
                                  const migration_options& options = {});

/// Start-up in one line: applies every pending migration.
/// `co_await asio_soci::async_upgrade_to_head(factory, my_migrations());`
/// Completion signature, executor, cancellation: as for migrator::async_upgrade().
/// Throws std::invalid_argument, as migrator's constructor, for an empty factory or bad
/// options.
template <class CompletionToken = asio::use_awaitable_t<>>
auto async_upgrade_to_head(session_factory factory, migration_set migrations,
                           migration_options options = {}, CompletionToken&& token = {}) {
    return migrator{std::move(factory), std::move(migrations), std::move(options)}.async_upgrade(
        std::string(head_revision), std::forward<CompletionToken>(token));
}
/// The synchronous form (blocks; not on an io_context thread).
std::vector<std::string> upgrade_to_head(const session_factory& factory,
                                         const migration_set& migrations,
                                         const migration_options& options = {});

}  // namespace asio_soci
