// asio-soci: SOCI database sessions for Asio coroutines. Include this for everything.
#pragma once

#include <asio_soci/as_future.hpp>
#include <asio_soci/connection_state.hpp>
#include <asio_soci/database_binds.hpp>
#include <asio_soci/database_url.hpp>
#include <asio_soci/errors.hpp>
#include <asio_soci/pool_options.hpp>
#include <asio_soci/pool_stats.hpp>
#include <asio_soci/request_scope.hpp>
#include <asio_soci/retry_policy.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/session_factory.hpp>

// What the README's snippets use besides the library: the io_context, co_spawn and the
// usual completion tokens.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <soci/soci.h>
