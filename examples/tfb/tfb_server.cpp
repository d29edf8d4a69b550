// The TechEmpower Framework Benchmarks test types, served by RESTinio on several io
// threads, with the database work on asio-soci's workers.
//
//   tfb_server [--database-url URL] [--address ADDR] [--port N] [--io-threads N]
//              [--pool-size N] [--worker-threads N] [--acquire-timeout-ms MS]
//              [--max-waiting N] [--db-api zero-hop|as-future] [--pipeline-connections N]
//              [--init]
//
//   GET /json               {"message":"Hello, World!"}
//   GET /plaintext          Hello, World!
//   GET /db                 one random World row: {"id":N,"randomNumber":N}
//   GET /queries?queries=N  N random rows (N clamped to 1..500; missing or not a number: 1)
//   GET /fortunes           every Fortune row plus one added at request time, sorted, HTML
//   GET /updates?queries=N  N random rows, each given a new random number, persisted
//
// At start-up it applies its migrations (examples/tfb/migrations/, embedded in the
// binary: the world table, the fortune table with the 12 standard fortunes) and fills an
// empty world table with 10,000 random rows. --init does that and exits.
//
// --db-api: how the database test types reach the database. zero-hop (the default on
// PostgreSQL): asio_soci::pg, statements sent from the io threads, a request's queries in
// one round trip; as-future (the only one on SQLite): SOCI on the workers.
#include "../common/restinio_server.hpp"
#include "../common/server.hpp"

#include "tfb_migrations.hpp"

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/postgresql.hpp>
#include <asio_soci/restinio.hpp>

#include <asio/use_future.hpp>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <restinio/all.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using request_handle = restinio::request_handle_t;

constexpr int world_rows = 10000;
constexpr std::size_t max_queries = 500;

struct world_row {
    int id = 0;
    int random_number = 0;
};

struct fortune_row {
    int id = 0;
    std::string message;
};

// --- random numbers ----------------------------------------------------------------------

// 1..10000, from an engine of the calling thread's own (io threads and workers alike).
int random_1_to_10000() {
    thread_local std::minstd_rand engine{std::random_device{}()};
    return std::uniform_int_distribution<int>{1, world_rows}(engine);
}

// `count` distinct random ids. Distinct, so that an /updates response reports exactly the
// values stored (a repeated id would be updated twice, the first value lost).
std::vector<int> distinct_random_ids(std::size_t count) {
    std::vector<bool> taken(world_rows + 1);
    std::vector<int> ids;
    ids.reserve(count);
    while (ids.size() < count) {
        int id = random_1_to_10000();
        if (!taken[id]) {
            taken[id] = true;
            ids.push_back(id);
        }
    }
    return ids;
}

// --- SQL (runs on the workers, inside as_future) ----------------------------------------

// The statements of the test types, prepared once per pooled connection (on PostgreSQL:
// parsed and planned once) and bound to their members: asio_soci::connection_state.
struct world_statements {
    explicit world_statements(soci::session& sql)
        : select{(sql.prepare << "select randomnumber from world where id = :id",
                  soci::use(selected.id), soci::into(selected.random_number))},
          update{(sql.prepare << "update world set randomnumber = :random_number where id = :id",
                  soci::use(updated.random_number), soci::use(updated.id))} {}
    world_row selected;  // bound to `select`
    world_row updated;   // bound to `update`
    soci::statement select;
    soci::statement update;
};

struct fortune_select {
    explicit fortune_select(soci::session& sql)
        : statement{(sql.prepare << "select id, message from fortune", soci::into(row.id),
                     soci::into(row.message))} {}
    fortune_row row;
    soci::statement statement;
};

// One query per row, as TFB requires (no `in (...)`).
std::vector<world_row> select_worlds(soci::session& sql, const std::vector<int>& ids) {
    auto& world = asio_soci::connection_state<world_statements>(sql);
    std::vector<world_row> rows;
    rows.reserve(ids.size());
    for (int id : ids) {
        world.selected.id = id;
        if (!world.select.execute(true))
            throw std::runtime_error("no row " + std::to_string(id) + " in world");
        rows.push_back(world.selected);
        // Steps past the row: a kept SQLite statement with a row left unread would keep
        // its read transaction open, and a later write on this connection would fail.
        world.select.fetch();
    }
    return rows;
}

void update_worlds(soci::session& sql, std::vector<world_row> rows) {
    // In id order, so that concurrent transactions lock rows in the same order and cannot
    // deadlock on PostgreSQL.
    std::ranges::sort(rows, {}, &world_row::id);
    auto& world = asio_soci::connection_state<world_statements>(sql);
    for (const auto& row : rows) {
        world.updated = row;
        world.update.execute(true);
    }
}

std::vector<fortune_row> select_fortunes(soci::session& sql) {
    auto& select = asio_soci::connection_state<fortune_select>(sql);
    std::vector<fortune_row> rows;
    if (select.statement.execute(true)) {
        do
            rows.push_back(select.row);
        while (select.statement.fetch());
    }
    return rows;
}

// Fills an empty world table with 10,000 random rows, in one bulk insert (and one
// transaction: the caller's); returns the number of rows added. Idempotent when two
// servers start together: a row that exists already is left alone.
long long fill_world_if_empty(soci::session& sql) {
    long long rows = 0;
    sql << "select count(*) from world", soci::into(rows);
    if (rows != 0)
        return 0;
    std::vector<int> ids(world_rows);
    std::vector<int> random_numbers(world_rows);
    for (int i = 0; i < world_rows; ++i) {
        ids[i] = i + 1;
        random_numbers[i] = random_1_to_10000();
    }
    sql << "insert into world (id, randomnumber) values (:id, :random_number) "
           "on conflict (id) do nothing",
        soci::use(ids), soci::use(random_numbers);
    return world_rows;
}

// --- rendering ---------------------------------------------------------------------------

std::string to_json(const world_row& row) {
    return fmt::format(R"({{"id":{},"randomNumber":{}}})", row.id, row.random_number);
}

std::string to_json(const std::vector<world_row>& rows) {
    std::string json = "[";
    for (const auto& row : rows) {
        if (json.size() > 1)
            json += ',';
        json += to_json(row);
    }
    return json + "]";
}

// A JSON string literal (the /json message is serialised per request, as TFB asks).
std::string json_string(std::string_view text) {
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            quoted += '\\';
        if (static_cast<unsigned char>(c) < 0x20)
            quoted += fmt::format("\\u{:04x}", c);
        else
            quoted += c;
    }
    return quoted + '"';
}

void append_html_escaped(std::string& html, std::string_view text) {
    for (char c : text) {
        switch (c) {
            case '&':
                html += "&amp;";
                break;
            case '<':
                html += "&lt;";
                break;
            case '>':
                html += "&gt;";
                break;
            case '"':
                html += "&quot;";
                break;
            case '\'':
                html += "&#39;";
                break;
            default:
                html += c;
        }
    }
}

std::string fortunes_html(std::vector<fortune_row> fortunes) {
    fortunes.push_back({0, "Additional fortune added at request time."});
    std::ranges::sort(fortunes, {}, &fortune_row::message);
    std::string html =
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
        "<tr><th>id</th><th>message</th></tr>";
    for (const auto& fortune : fortunes) {
        html += "<tr><td>" + std::to_string(fortune.id) + "</td><td>";
        append_html_escaped(html, fortune.message);
        html += "</td></tr>";
    }
    return html + "</table></body></html>";
}

// --- HTTP --------------------------------------------------------------------------------

// The Date header (RFC 7231), formatted at most once a second per thread.
const std::string& http_date() {
    thread_local std::time_t formatted_at = 0;
    thread_local std::string date;
    const std::time_t now = std::time(nullptr);
    if (now != formatted_at) {
        date = restinio::make_date_field_value(now);
        formatted_at = now;
    }
    return date;
}

// RESTinio adds Content-Length.
void respond(const request_handle& req, restinio::http_status_line_t status,
             const char* content_type, std::string body) {
    req->create_response(std::move(status))
        .append_header(restinio::http_field::server, "asio-soci")
        .append_header(restinio::http_field::date, http_date())
        .append_header(restinio::http_field::content_type, content_type)
        .set_body(std::move(body))
        .done();
}

constexpr const char* json_type = "application/json";

// The `queries` parameter: clamped to 1..500; missing, empty or not a number means 1.
std::size_t query_count(const restinio::request_t& req) {
    const auto query = restinio::try_parse_query<restinio::parse_query_traits::restinio_defaults>(
        req.header().query());
    if (!query)
        return 1;
    const auto value = query->get_param("queries");
    if (!value)
        return 1;
    const std::string_view text{value->data(), value->size()};
    long long count = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (error == std::errc::result_out_of_range)
        return text.starts_with('-') ? 1 : max_queries;
    if (error != std::errc{} || end != text.data() + text.size())
        return 1;
    return static_cast<std::size_t>(std::clamp<long long>(count, 1, max_queries));
}

// Reads `count` random rows. A read needs no transaction (the factory is in autocommit
// mode), so it takes the scope's session (handed over at once when one is idle) and makes
// one offload for all its queries; the one-shot as_future(factory, ...) would add BEGIN
// and COMMIT round trips.
asio::awaitable<std::vector<world_row>> read_random_worlds(asio_soci::request_scope& scope,
                                                           std::size_t count) {
    asio_soci::session& s = co_await scope.session();
    // Named, not a temporary of the co_await expression: GCC 12 destroys such a temporary
    // twice when it owns memory (here the ids), a double free.
    auto select = [ids = distinct_random_ids(count)](soci::session& sql) {
        return select_worlds(sql, ids);
    };
    co_return co_await asio_soci::as_future(s, std::move(select));
}

// --- the zero-hop path (PostgreSQL): statements from the io threads -----------------------

constexpr const char* select_world = "select id, randomnumber from world where id = $1";

world_row world_row_of(const asio_soci::pg::result& result) {
    if (result.empty())
        throw std::runtime_error("a world row is missing");
    const auto row = result.front();
    return {row.get<int>(0), row.get<int>(1)};
}

std::vector<world_row> world_rows_of(const std::vector<asio_soci::pg::result>& results) {
    std::vector<world_row> rows;
    rows.reserve(results.size());
    for (const auto& result : results)
        rows.push_back(world_row_of(result));
    return rows;
}

// `count` random rows: one statement each, all sent in one write and answered in one
// round trip.
asio::awaitable<std::vector<world_row>> read_random_worlds_zero_hop(asio_soci::request_scope& scope,
                                                                    std::size_t count) {
    asio_soci::session& s = co_await scope.session();
    asio_soci::pg::batch selects;
    for (int id : distinct_random_ids(count))
        selects.add(select_world, id);
    co_return world_rows_of(co_await asio_soci::pg::async_execute(s, std::move(selects)));
}

// /db: one statement and no session, so it goes out with the statements of the
// requests that arrive meanwhile (pg::async_query on the factory pipelines them).
asio::awaitable<world_row> read_random_world_zero_hop(const asio_soci::session_factory& factory) {
    auto result = co_await asio_soci::pg::async_query(factory, select_world, random_1_to_10000());
    co_return world_row_of(result);
}

asio::awaitable<std::vector<fortune_row>> read_fortunes_zero_hop(
    const asio_soci::session_factory& factory) {
    auto result = co_await asio_soci::pg::async_query(factory, "select id, message from fortune");
    std::vector<fortune_row> rows;
    rows.reserve(result.size() + 1);
    for (auto row : result)
        rows.push_back({row.get<int>(0), row.get<std::string>(1)});
    co_return rows;
}

// The reads in one round trip, then the updates in another: in autocommit mode a batch is
// one implicit transaction, so the updates land together (in id order: concurrent
// requests lock rows in the same order and cannot deadlock).
asio::awaitable<std::vector<world_row>> update_random_worlds_zero_hop(
    asio_soci::request_scope& scope, std::size_t count) {
    auto rows = co_await read_random_worlds_zero_hop(scope, count);
    for (auto& row : rows)
        row.random_number = random_1_to_10000();
    auto sorted = rows;
    std::ranges::sort(sorted, {}, &world_row::id);
    asio_soci::pg::batch updates;
    for (const auto& row : sorted)
        updates.add("update world set randomnumber = $1 where id = $2", row.random_number, row.id);
    asio_soci::session& s = co_await scope.session();
    co_await asio_soci::pg::async_execute(s, std::move(updates));
    co_return rows;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"asio-soci TechEmpower Framework Benchmarks server"};
    example::server_options options;
    options.pool_size = 16;
    example::add_server_options(app, options, example::sqlite_url_next_to_executable("tfb.db"));
    std::size_t io_threads = std::max(1U, std::thread::hardware_concurrency());
    std::size_t worker_threads = 0;
    bool init = false;
    app.add_option("--io-threads", io_threads, "Threads running the HTTP server")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--worker-threads", worker_threads,
                   "Threads running the database work (0: --pool-size)")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    std::string db_api;
    app.add_option("--db-api", db_api,
                   "zero-hop (asio_soci::pg, PostgreSQL only) or as-future (SOCI on the "
                   "workers); default: zero-hop on PostgreSQL")
        ->check(CLI::IsMember({"zero-hop", "as-future"}));
    std::size_t pipeline_connections = asio_soci::pool_options{}.pipeline_connections;
    app.add_option("--pipeline-connections", pipeline_connections,
                   "zero-hop: connections that /db and /fortunes pipeline their statements on")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_flag("--init", init,
                 "Apply the migrations and fill the World table if empty, then exit");
    CLI11_PARSE(app, argc, argv);

    example::log_to_stderr();
    try {
        auto pool_options = example::pool_options(options);
        pool_options.worker_threads = worker_threads;
        pool_options.pipeline_connections = pipeline_connections;
        // Reads begin no transaction (a BEGIN and a ROLLBACK round trip each); /updates
        // uses the one-shot form, which has its own.
        pool_options.autocommit = true;
        // Before the factory, so it outlives it: the pool, when it goes, finishes the calls
        // still running on its workers, which complete on this io_context.
        asio::io_context io{static_cast<int>(io_threads)};
        auto factory = asio_soci::make_session_factory(options.database_url, pool_options);
        spdlog::info("database {}", factory.url().to_string());

        const bool postgresql = factory.url().backend() == asio_soci::backend::postgresql;
        if (db_api.empty())
            db_api = postgresql ? "zero-hop" : "as-future";
        if (db_api == "zero-hop" && !postgresql)
            throw std::invalid_argument("--db-api zero-hop needs a PostgreSQL database");
        const bool zero_hop = db_api == "zero-hop";
        spdlog::info("database API: {}", db_api);

        example::upgrade_schema(factory, example::tfb_migrations(), options);
        if (long long added =
                asio_soci::as_future(factory, fill_world_if_empty, asio::use_future).get())
            spdlog::info("filled the world table: {} rows", added);
        if (init)
            return 0;

        example::in_flight requests;
        const auto adapter_options = example::adapter_options(requests);
        auto coroutine = [&](auto handler) {
            return asio_soci::restinio_handler(io.get_executor(), factory, std::move(handler),
                                               adapter_options);
        };

        // One co_await per statement, never `c ? co_await a : co_await b`: GCC 12
        // destroys the awaitables of such an expression twice.
        auto read_worlds = [&](asio_soci::request_scope& scope,
                               std::size_t count) -> asio::awaitable<std::vector<world_row>> {
            if (zero_hop)
                co_return co_await read_random_worlds_zero_hop(scope, count);
            co_return co_await read_random_worlds(scope, count);
        };
        auto db = coroutine(
            [&](request_handle req, asio_soci::request_scope& scope) -> asio::awaitable<void> {
                if (zero_hop) {
                    auto row = co_await read_random_world_zero_hop(factory);
                    respond(req, restinio::status_ok(), json_type, to_json(row));
                    co_return;
                }
                auto rows = co_await read_random_worlds(scope, 1);
                respond(req, restinio::status_ok(), json_type, to_json(rows.front()));
            });
        auto queries = coroutine(
            [&](request_handle req, asio_soci::request_scope& scope) -> asio::awaitable<void> {
                auto rows = co_await read_worlds(scope, query_count(*req));
                respond(req, restinio::status_ok(), json_type, to_json(rows));
            });
        auto fortunes = coroutine([&](request_handle req,
                                      asio_soci::request_scope& scope) -> asio::awaitable<void> {
            std::vector<fortune_row> rows;
            if (zero_hop) {
                rows = co_await read_fortunes_zero_hop(factory);
            } else {
                asio_soci::session& s = co_await scope.session();  // a read: see read_random_worlds
                rows = co_await asio_soci::as_future(
                    s, [&](soci::session& sql) { return select_fortunes(sql); });
            }
            respond(req, restinio::status_ok(), "text/html; charset=utf-8",
                    fortunes_html(std::move(rows)));
        });
        auto updates = coroutine(
            [&](request_handle req, asio_soci::request_scope& scope) -> asio::awaitable<void> {
                const auto count = query_count(*req);
                if (zero_hop) {
                    auto rows = co_await update_random_worlds_zero_hop(scope, count);
                    respond(req, restinio::status_ok(), json_type, to_json(rows));
                    co_return;
                }
                // Reads and writes in one transaction, in one offload: the one-shot form
                // (acquire, begin, run, commit, give back, all on the workers).
                // Named: see read_random_worlds.
                auto select_and_update = [&, ids = distinct_random_ids(count)](soci::session& sql) {
                    auto rows = select_worlds(sql, ids);
                    for (auto& row : rows)
                        row.random_number = random_1_to_10000();
                    update_worlds(sql, rows);
                    return rows;
                };
                auto rows = co_await asio_soci::as_future(factory, std::move(select_and_update));
                respond(req, restinio::status_ok(), json_type, to_json(rows));
            });

        // Six fixed paths: compared directly, cheaper than the express router's regexes.
        auto route = [&](request_handle req) -> restinio::request_handling_status_t {
            const auto& target = req->header().path();
            const std::string_view path{target.data(), target.size()};
            if (req->header().method() != restinio::http_method_get())
                return restinio::request_rejected();
            if (path == "/plaintext")
                respond(req, restinio::status_ok(), "text/plain", "Hello, World!");
            else if (path == "/json")
                respond(req, restinio::status_ok(), json_type,
                        "{\"message\":" + json_string("Hello, World!") + "}");
            else if (path == "/db")
                return db(std::move(req));
            else if (path == "/queries")
                return queries(std::move(req));
            else if (path == "/fortunes")
                return fortunes(std::move(req));
            else if (path == "/updates")
                return updates(std::move(req));
            else
                respond(req, restinio::status_not_found(), "text/plain", "Not Found");
            return restinio::request_accepted();
        };

        // default_traits_t, unlike the single-thread traits, serialises each connection on
        // a strand: needed when several threads run the io_context.
        return example::serve<restinio::default_traits_t>(io, io_threads, options, route, requests);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
