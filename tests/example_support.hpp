// Helpers of the example servers' integration tests (tests/test_examples.cpp,
// tests/test_tfb.cpp): a server started as a process, and a tiny HTTP/1.1 client.
#pragma once

#include <asio/awaitable.hpp>

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace test {

/// Runs `program` with `args` to its end; returns its exit status (-1 unless it exited).
int run_process(const std::string& program, std::vector<std::string> args);

/// An example server, started with posix_spawn; its stdout is a pipe from which the
/// "listening on SCHEME://ADDR:PORT" line is read (30 s at most). Killed if the test
/// ends without stop().
class server_process {
public:
    server_process(const std::string& program, std::vector<std::string> args);
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    unsigned short port() const { return port_; }
    pid_t pid() const { return pid_; }

    /// Sends SIGTERM and returns the exit status (-1 unless it exited normally).
    int stop();
    /// Waits for the process to end; returns its exit status (-1 unless it exited).
    int wait();

private:
    void read_listening_line(const std::string& program);

    pid_t pid_ = -1;
    int stdout_ = -1;
    unsigned short port_ = 0;
};

struct http_response {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

/// One HTTP/1.1 request on a connection of its own ("Connection: close").
asio::awaitable<http_response> async_http(unsigned short port, std::string method,
                                          std::string target, std::string body = {},
                                          std::string content_type = {});

/// The same, run to its end on an io_context of its own.
http_response http(unsigned short port, std::string method, std::string target,
                   std::string body = {}, std::string content_type = {});

}  // namespace test
