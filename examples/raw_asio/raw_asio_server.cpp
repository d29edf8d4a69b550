// asio-soci needs no HTTP framework: a TCP server on plain Asio sockets with a line
// protocol, one request_scope per command.
//
//   raw_asio_server [--database-url URL] [--address ADDR] [--port N]
//                   [--pool-size N] [--acquire-timeout-ms MS] [--max-waiting N]
//
// At start-up it applies the users table's migrations (embedded in the binary).
//
//   COUNT        -> OK <number of users>
//   ADD <name>   -> OK added | ERR duplicate | ERR <why the name is invalid>
//   QUIT         -> OK bye, and the server closes the connection
//   other        -> ERR unknown command
//   an exhausted pool -> BUSY retry later; any other failure -> ERR internal error
#include "../common/server.hpp"
#include "../common/users_table.hpp"

#include <asio_soci/asio_soci.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read_until.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <string>
#include <utility>

namespace {

using asio::ip::tcp;

constexpr std::size_t max_line_length = 1024;

struct context {
    asio_soci::session_factory factory;
    example::in_flight requests;
};

// One command, in a request scope of its own: its session goes back when it returns.
asio::awaitable<std::string> execute(context& ctx, const std::string& line) {
    asio_soci::request_scope scope{ctx.factory};
    if (line == "COUNT") {
        asio_soci::session& s = co_await scope.session();
        long long n = co_await asio_soci::as_future(
            s, [&](soci::session& sql) { return example::count_users(sql); });
        co_return "OK " + std::to_string(n);
    }
    if (line.starts_with("ADD ")) {
        std::string name = line.substr(4);
        if (auto problem = example::invalid_username(name))
            co_return "ERR " + *problem;
        asio_soci::session& s = co_await scope.session();
        bool added = co_await asio_soci::as_future(
            s, [&](soci::session& sql) { return example::add_user(sql, name); });
        co_await s.async_commit();
        co_return added ? "OK added" : "ERR duplicate";
    }
    co_return "ERR unknown command";
}

asio::awaitable<std::string> reply_to(context& ctx, const std::string& line) {
    try {
        co_return co_await execute(ctx, line);
    } catch (const asio_soci::pool_timeout& e) {
        spdlog::warn("{}: {}", line, e.what());
        co_return "BUSY retry later";
    } catch (const std::exception& e) {
        // The reply never carries the error's text (it may hold SQL); the log does.
        spdlog::error("{} failed: {}", line, e.what());
        co_return "ERR internal error";
    }
}

asio::awaitable<void> serve_connection(context& ctx, tcp::socket socket) {
    std::string buffer;
    try {
        for (;;) {
            std::size_t n = co_await asio::async_read_until(
                socket, asio::dynamic_buffer(buffer, max_line_length), '\n', asio::use_awaitable);
            std::string line = buffer.substr(0, n - 1);
            buffer.erase(0, n);
            if (!line.empty() && line.back() == '\r')
                line.pop_back();

            ctx.requests.start();  // until the reply is written, so that a stop waits
            // No co_await inside ?: here: GCC 12 miscompiles that (double free).
            std::string reply = "OK bye";
            if (line != "QUIT")
                reply = co_await reply_to(ctx, line);
            reply += '\n';
            std::exception_ptr write_error;
            try {
                co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
            } catch (...) {
                write_error = std::current_exception();
            }
            ctx.requests.finish();
            if (write_error)
                std::rethrow_exception(write_error);
            if (line == "QUIT")
                co_return;
        }
    } catch (const std::exception& e) {
        // The client went away, or sent a line longer than max_line_length.
        spdlog::debug("connection closed: {}", e.what());
    }
}

asio::awaitable<void> accept_connections(context& ctx, tcp::acceptor& acceptor) {
    while (acceptor.is_open()) {
        try {
            tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
            asio::co_spawn(acceptor.get_executor(), serve_connection(ctx, std::move(socket)),
                           asio::detached);
        } catch (const std::exception& e) {
            if (acceptor.is_open())
                spdlog::warn("accept failed: {}", e.what());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"asio-soci raw Asio example: a line protocol on plain TCP sockets"};
    example::server_options options;
    example::add_server_options(app, options, example::sqlite_url_next_to_executable("users.db"));
    CLI11_PARSE(app, argc, argv);

    example::log_to_stderr();
    try {
        // Before the factory, so it outlives it: the pool, when it goes, finishes the calls
        // still running on its workers, which complete on this io_context.
        asio::io_context io;
        context ctx{
            asio_soci::make_session_factory(options.database_url, example::pool_options(options)),
            {}};
        spdlog::info("database {}", ctx.factory.url().to_string());
        example::upgrade_schema(ctx.factory, example::users_migrations(ctx.factory.url().backend()),
                                options);

        tcp::acceptor acceptor{io, {asio::ip::make_address(options.address), options.port}};
        example::announce_listening("tcp", acceptor.local_endpoint());
        asio::co_spawn(io, accept_connections(ctx, acceptor), asio::detached);
        example::stop_on_signal(io, ctx.requests, [&acceptor](auto then) {
            acceptor.close();
            then();
        });
        io.run();
        return 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
