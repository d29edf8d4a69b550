#include "example_support.hpp"

#include "support.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <regex>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace test {

namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

// Starts `program` with `args`; its stdout goes to `stdout_fd` unless that is -1. The
// child is killed when the thread that started it ends, so that a test process that
// dies (a failed assertion under a sanitizer, a crash) leaves no server behind to hold
// ctest's output pipe open until the test's timeout.
pid_t spawn(const std::string& program, std::vector<std::string> args, int stdout_fd) {
    args.insert(args.begin(), program);
    std::vector<char*> argv;
    for (auto& arg : args)
        argv.push_back(arg.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::system_error(errno, std::generic_category(), "fork for " + program);
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
            ::_exit(127);
        if (stdout_fd >= 0 && ::dup2(stdout_fd, STDOUT_FILENO) < 0)
            ::_exit(127);
        ::execve(program.c_str(), argv.data(), environ);
        ::_exit(127);
    }
    return pid;
}

int exit_status(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

http_response parse_response(const std::string& raw) {
    http_response response;
    auto head_end = raw.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    response.body = raw.substr(head_end + 4);
    std::string head = raw.substr(0, head_end);
    auto line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    REQUIRE(status_line.starts_with("HTTP/1.1 "));
    response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
        auto start = line_end + 2;
        line_end = head.find("\r\n", start);
        std::string line = head.substr(start, line_end - start);
        auto colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    return response;
}

}  // namespace

int run_process(const std::string& program, std::vector<std::string> args) {
    return exit_status(spawn(program, std::move(args), -1));
}

server_process::server_process(const std::string& program, std::vector<std::string> args) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    try {
        pid_ = spawn(program, std::move(args), out[1]);
    } catch (...) {
        ::close(out[0]);
        ::close(out[1]);
        throw;
    }
    ::close(out[1]);
    stdout_ = out[0];
    read_listening_line(program);
}

server_process::~server_process() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    ::close(stdout_);
}

int server_process::stop() {
    ::kill(pid_, SIGTERM);
    return wait();
}

int server_process::wait() {
    int status = exit_status(pid_);
    pid_ = -1;
    return status;
}

void server_process::read_listening_line(const std::string& program) {
    const auto deadline = clock_type::now() + 30s;
    std::string output;
    static const std::regex listening{R"(listening on [a-z]+://[0-9.]+:([0-9]+)\n)"};
    std::smatch match;
    while (!std::regex_search(output, match, listening)) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        pollfd readable{stdout_, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
            throw std::runtime_error(program + " did not announce its port: " + output);
        char chunk[256];
        auto n = ::read(stdout_, chunk, sizeof chunk);
        if (n <= 0)
            throw std::runtime_error(program + " exited before listening: " + output);
        output.append(chunk, static_cast<std::size_t>(n));
    }
    port_ = static_cast<unsigned short>(std::stoi(match[1]));
}

asio::awaitable<http_response> async_http(unsigned short port, std::string method,
                                          std::string target, std::string body,
                                          std::string content_type) {
    tcp::socket socket{co_await asio::this_coro::executor};
    co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    std::string request =
        method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!content_type.empty())
        request += "Content-Type: " + content_type + "\r\n";
    if (method != "GET")
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n" + body;
    co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
    std::string raw;
    try {
        co_await asio::async_read(socket, asio::dynamic_buffer(raw), asio::use_awaitable);
    } catch (const std::system_error& e) {
        if (e.code() != asio::error::eof)
            throw;
    }
    co_return parse_response(raw);
}

http_response http(unsigned short port, std::string method, std::string target, std::string body,
                   std::string content_type) {
    asio::io_context io;
    return run(io, async_http(port, std::move(method), std::move(target), std::move(body),
                              std::move(content_type)));
}

}  // namespace test
