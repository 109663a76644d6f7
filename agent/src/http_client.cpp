#include "certswap/http_client.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <mutex>
#include <random>
#include <streambuf>
#include <thread>

#include "certswap/version.hpp"

namespace certswap {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ShareDeleter {
  void operator()(CURLSH* s) const { curl_share_cleanup(s); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SharePtr = std::unique_ptr<CURLSH, ShareDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// curl_global_init is not thread-safe; run it once before any handle exists.
void ensure_curl_global() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

struct BodySink {
  std::string* body;
  std::size_t limit;
  bool over_limit = false;
};

// Returning less than was given makes libcurl abort the transfer.
size_t collect_body(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (size * n > sink->limit - sink->body->size()) {
    sink->over_limit = true;
    return 0;
  }
  sink->body->append(data, size * n);
  return size * n;
}

size_t collect_header(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view key = "retry-after:";
  if (line.size() > key.size()) {
    std::string lower(line.substr(0, key.size()));
    std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == key) {
      auto value = line.substr(key.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      long long seconds = -1;  // left so by from_chars when the value is no number
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (ec == std::errc::result_out_of_range && !value.starts_with('-')) {
        seconds = kMaxRetryAfter.count();
      } else if (ec == std::errc::invalid_argument) {
        // Or an HTTP-date (RFC 9110 10.2.3): the wait is until then, none if it is past.
        const std::string date(value.substr(0, value.find_first_of("\r\n")));
        if (const std::time_t when = curl_getdate(date.c_str(), nullptr); when != -1) {
          seconds = std::max<long long>(0, when - std::time(nullptr));
        }
      }
      if (seconds >= 0) {
        *static_cast<std::optional<std::chrono::seconds>*>(user) =
            std::min(std::chrono::seconds(seconds), kMaxRetryAfter);
      }
    }
  }
  return size * n;
}

bool retriable_transport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;  // TLS verification failures, bad URLs: retrying cannot help
  }
}

// libcurl 7.88 opens its connections without SOCK_CLOEXEC; an exec hook
// started while one is kept alive would hold the API connection open.
curl_socket_t open_cloexec_socket(void*, curlsocktype, curl_sockaddr* address) {
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// libcurl asks this about once a second while a transfer waits on the
// network (and on every chunk of data): non-zero aborts it with
// CURLE_ABORTED_BY_CALLBACK. A GET is abandoned when the agent stops
// (SIGTERM), so a slow answer does not hold the exit up for the transfer
// timeout; a GET changes nothing upstream, so nothing is lost.
int abandon_when_stopping(void* budget, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const ApiBudget*>(budget)->stopping() ? 1 : 0;
}

std::string failure_text(CURLcode code, const char* error_buffer) {
  if (code == CURLE_ABORTED_BY_CALLBACK) return "abandoned: certswap is stopping";
  return error_buffer[0] ? error_buffer : curl_easy_strerror(code);
}

bool retriable_status(long status) {
  return status == 429 || status >= 500;
}

Result<std::string> checked_url(const HttpOptions& options, const std::string& path) {
  std::string url = options.base_url + path;
  if (!url.starts_with("https://") && !(options.allow_plain_http && url.starts_with("http://"))) {
    return fail(ErrorKind::Usage,
                "refusing {}: only https:// URLs are allowed, so that the token and the keys "
                "never travel in clear text{}",
                url.substr(0, url.find('?')),
                url.starts_with("http://") ? " (a local test endpoint may be allowed with "
                                             "--api-allow-plain-http)"
                                           : "");
  }
  return url;
}

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;

// One streamed attempt. curl pushes a body into a write callback, while a JSON
// parser pulls its input; so the easy handle runs in a multi handle of its own
// and the reader drives it (pump) whenever it needs more bytes. What waits
// for the reader is at most what one curl_multi_perform delivers (a bounded
// number of 16 KiB reads), never the whole body. The multi handle and its
// connection end with the attempt: a streamed call is once a pass or a
// rotation, and the pooled handles keep their own connections for the rest.
class Transfer {
 public:
  Transfer(CURL* easy, std::size_t limit) : easy_(easy), multi_(curl_multi_init()), limit_(limit) {}
  ~Transfer() {
    if (added_) curl_multi_remove_handle(multi_.get(), easy_);
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  bool start() {
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    // An announced length over the limit is refused before a byte is read.
    curl_easy_setopt(easy_, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limit_));
    added_ = multi_ && curl_multi_add_handle(multi_.get(), easy_) == CURLM_OK;
    return added_;
  }

  // Runs the transfer until it has bytes for the reader or has ended.
  void pump() {
    while (!done_ && pending_.empty()) {
      int running = 0;
      if (curl_multi_perform(multi_.get(), &running) != CURLM_OK) {
        done_ = true;
        code_ = CURLE_OUT_OF_MEMORY;  // what a failing multi_perform reports
        break;
      }
      if (running == 0) {
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
          if (msg->msg == CURLMSG_DONE) code_ = msg->data.result;
        }
        done_ = true;
      } else if (pending_.empty()) {
        curl_multi_poll(multi_.get(), nullptr, 0, 1000, nullptr);
      }
    }
  }

  // The bytes received since the last call, moved into `into`.
  void take(std::string& into) {
    into.clear();
    if (pending_.empty()) pump();
    std::swap(into, pending_);
  }

  bool done() const { return done_; }
  CURLcode code() const { return code_; }
  bool over_limit() const { return over_limit_ || code_ == CURLE_FILESIZE_EXCEEDED; }

 private:
  // Returning less than was given makes libcurl abort the transfer.
  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<Transfer*>(user);
    if (size * n > self->limit_ - self->received_) {
      self->over_limit_ = true;
      return 0;
    }
    self->received_ += size * n;
    self->pending_.append(data, size * n);
    return size * n;
  }

  CURL* easy_;
  MultiPtr multi_;
  std::size_t limit_;
  std::size_t received_ = 0;
  std::string pending_;
  bool added_ = false, done_ = false, over_limit_ = false;
  CURLcode code_ = CURLE_OK;
};

// The body of a Transfer as a std::istream reads it.
class TransferBuffer final : public std::streambuf {
 public:
  explicit TransferBuffer(Transfer& transfer) : transfer_(transfer) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    transfer_.take(reading_);
    if (reading_.empty()) return traits_type::eof();
    setg(reading_.data(), reading_.data(), reading_.data() + reading_.size());
    return traits_type::to_int_type(reading_.front());
  }

 private:
  Transfer& transfer_;
  std::string reading_;
};

// Non-zero makes libcurl end the transfer (CURLE_ABORTED_BY_CALLBACK).
int abort_when_cancelled(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return (*static_cast<const std::function<bool()>*>(cancelled))() ? 1 : 0;
}

// Sets up a borrowed handle for one attempt: everything but the body's sink.
void configure(CURL* curl, const HttpOptions& options, CURLSH* share, const std::string& url,
               const std::string& method, const std::string& body, curl_slist* header_list,
               char* error_buffer, std::optional<std::chrono::seconds>* retry_after) {
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_SHARE, share);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_pem.empty()) {
    curl_blob ca{const_cast<char*>(options.ca_pem.data()), options.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  } else if (!options.extra_ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options.extra_ca_file.c_str());
  }
  if (!options.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(options.client_cert_pem.data()),
                   options.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(options.client_key_pem.data()), options.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, options.allow_plain_http ? "https,http" : "https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_cloexec_socket);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, retry_after);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent().c_str());  // libcurl copies it
  // Not a PUT: its answer is how certswap learns what Aiven did, so one in
  // flight runs to its end (or its timeout) even when the agent stops.
  if (options.budget && method == "GET" && !options.cancelled) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, abandon_when_stopping);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, options.budget.get());
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  // A client with its own cancel (a watch) has no budget; the Aiven client has no cancel.
  if (options.cancelled) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, abort_when_cancelled);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &options.cancelled);
  }
}

}  // namespace

// Easy handles are not thread-safe; a request takes one of its own from the
// pool. Each pooled handle keeps its own keep-alive connection and TLS session
// between requests; only the DNS cache is shared (curl share interface, with
// the lock it asks for). Connections are not shared because CURLSHOPT_SHARE(3)
// does not support that between concurrent threads. TLS sessions are not
// shared because ThreadSanitizer reported, in ~1 of 6 runs of the concurrent
// one-shot test, one thread freeing a session's certificate stack under the
// share lock while another's handshake copied it outside any lock.
struct HttpClient::Handles {
  std::mutex pool_mutex;
  std::vector<CurlPtr> idle;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_mutexes;
  SharePtr share;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Handles*>(user)->share_mutexes[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Handles*>(user)->share_mutexes[data].unlock();
  }

  Handles() : share(curl_share_init()) {
    if (!share) return;
    curl_share_setopt(share.get(), CURLSHOPT_LOCKFUNC, &Handles::lock);
    curl_share_setopt(share.get(), CURLSHOPT_UNLOCKFUNC, &Handles::unlock);
    curl_share_setopt(share.get(), CURLSHOPT_USERDATA, this);
    curl_share_setopt(share.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  // The easy handles go first: each may still refer to the share object.
  ~Handles() { idle.clear(); }

  CurlPtr take() {
    std::lock_guard lock(pool_mutex);
    if (idle.empty()) return CurlPtr(curl_easy_init());
    CurlPtr curl = std::move(idle.back());
    idle.pop_back();
    return curl;
  }
  void give_back(CurlPtr curl) {
    if (!curl) return;
    std::lock_guard lock(pool_mutex);
    idle.push_back(std::move(curl));
  }
};

// Returns the handle to the pool whatever way the request ends.
class BorrowedHandle {
 public:
  explicit BorrowedHandle(HttpClient::Handles& handles)
      : handles_(handles), curl_(handles.take()) {}
  ~BorrowedHandle() { handles_.give_back(std::move(curl_)); }
  BorrowedHandle(const BorrowedHandle&) = delete;
  BorrowedHandle& operator=(const BorrowedHandle&) = delete;
  CURL* get() const { return curl_.get(); }

 private:
  HttpClient::Handles& handles_;
  CurlPtr curl_;
};

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double jitter,
                                        std::optional<std::chrono::seconds> retry_after) {
  using std::chrono::milliseconds;
  const milliseconds cap = std::max(policy.max_delay, milliseconds(0));
  if (retry_after) {
    // Compared in seconds first: converting a huge value to milliseconds overflows.
    if (*retry_after <= std::chrono::seconds(0)) return milliseconds(0);
    if (*retry_after >= std::chrono::ceil<std::chrono::seconds>(cap)) return cap;
    return *retry_after;
  }
  // Full jitter: a random point in [0, base * 2^(attempt-1)], so many agents
  // hitting one API after an outage spread out instead of retrying in step.
  const milliseconds::rep factor = milliseconds::rep{1} << std::clamp(attempt - 1, 0, 20);
  const milliseconds base = std::clamp(policy.base_delay, milliseconds(0), cap);
  const milliseconds ceiling = base > cap / factor ? cap : base * factor;
  return milliseconds(static_cast<long long>(ceiling.count() * std::clamp(jitter, 0.0, 1.0)));
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  ensure_curl_global();
  if (!options_.sleep) {
    // With a budget, the wait ends early when the agent stops (ApiBudget::stop_waiting).
    options_.sleep = [budget = options_.budget](std::chrono::milliseconds d) {
      if (budget) {
        budget->wait_for(d);
      } else {
        std::this_thread::sleep_for(d);
      }
    };
  }
  if (!options_.jitter) {
    options_.jitter = [] {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  }
  handles_ = std::make_unique<Handles>();
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Result<HttpResponse> HttpClient::request(const std::string& method, const std::string& path,
                                         const std::string& body,
                                         const std::vector<std::string>& headers,
                                         bool retry_on_failure) {
  if (!handles_->share) return fail(ErrorKind::Internal, "libcurl could not create a share");
  auto checked = checked_url(options_, path);
  if (!checked) return std::unexpected(checked.error());
  const std::string& url = *checked;
  const int attempts = retry_on_failure ? std::max(1, options_.retry.max_attempts) : 1;

  std::string last_failure;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    SlistPtr header_list;
    for (const auto& h : headers) {
      header_list.reset(curl_slist_append(header_list.release(), h.c_str()));
    }
    HttpResponse response;
    char error_buffer[CURL_ERROR_SIZE] = {};

    // Taken per attempt: a retry waits its turn like any other request. The
    // handle (and the keep-alive connection it holds) only once the budget
    // lets the request go, so there are never more handles with a connection
    // than requests the budget allows in flight, whatever the worker count.
    std::optional<ApiBudget::Slot> slot;
    if (options_.budget) {
      slot = options_.budget->acquire();
      if (!slot)
        return fail(ErrorKind::Api, "{} {}{}: not sent: certswap is stopping{}", method,
                    options_.base_url, path, last_failure.empty() ? "" : " (" + last_failure + ")");
    }
    std::optional<BorrowedHandle> handle;
    handle.emplace(*handles_);
    CURL* curl = handle->get();
    if (!curl) return fail(ErrorKind::Internal, "libcurl could not create a handle");

    configure(curl, options_, handles_->share.get(), url, method, body, header_list.get(),
              error_buffer, &response.retry_after);
    BodySink sink{&response.body, options_.max_body_bytes};
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_body_bytes));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);

    const CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    // The handle goes back before the slot, so the next request the budget
    // lets go finds it idle instead of making another.
    handle.reset();
    slot.reset();
    bool retriable = false;
    if (code == CURLE_OK) {
      // The server asked this token to slow down: every target using it waits,
      // as long as this request waits before its own retry (capped the same way).
      if (response.status == 429 && response.retry_after && options_.budget) {
        options_.budget->pause(backoff_delay(options_.retry, attempt, 0.0, response.retry_after));
      }
      if (!retriable_status(response.status) || attempt == attempts) return response;
      retriable = true;
      last_failure = fmt::format("HTTP {}", response.status);
    } else if (sink.over_limit || code == CURLE_FILESIZE_EXCEEDED) {
      return fail(ErrorKind::Api,
                  "{} {}: the response body is larger than the {}-byte limit; this is not an "
                  "answer certswap expects (check the API URL or the proxy in between)",
                  method, url.substr(0, url.find('?')), options_.max_body_bytes);
    } else {
      last_failure = failure_text(code, error_buffer);
      retriable = retriable_transport(code);
      if (!retriable || attempt == attempts) {
        return fail(ErrorKind::Api, "{} {}{}: {} (after {} attempt{})", method, options_.base_url,
                    path, last_failure, attempt, attempt == 1 ? "" : "s");
      }
    }
    const auto delay =
        backoff_delay(options_.retry, attempt, options_.jitter(), response.retry_after);
    spdlog::warn("{} {}: {}; retrying in {} ms (attempt {}/{})", method, url, last_failure,
                 delay.count(), attempt + 1, attempts);
    options_.sleep(delay);
    if (options_.budget && options_.budget->stopping()) {
      spdlog::info("{} {}: not retried: certswap is stopping", method, url);
      if (code == CURLE_OK) return response;
      return fail(ErrorKind::Api, "{} {}{}: {} (not retried: certswap is stopping)", method,
                  options_.base_url, path, last_failure);
    }
  }
  return fail(ErrorKind::Api, "{} {}: {}", method, path, last_failure);
}

Result<StreamedResponse> HttpClient::request_streamed(
    const std::string& method, const std::string& path, const std::string& body,
    const std::vector<std::string>& headers, bool retry_on_failure, const BodyReader& read) {
  if (!handles_->share) return fail(ErrorKind::Internal, "libcurl could not create a share");
  auto checked = checked_url(options_, path);
  if (!checked) return std::unexpected(checked.error());
  const std::string& url = *checked;
  const int attempts = retry_on_failure ? std::max(1, options_.retry.max_attempts) : 1;

  std::string last_failure;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    SlistPtr header_list;
    for (const auto& h : headers) {
      header_list.reset(curl_slist_append(header_list.release(), h.c_str()));
    }
    std::optional<std::chrono::seconds> retry_after;
    char error_buffer[CURL_ERROR_SIZE] = {};
    StreamedResponse response;
    bool retriable = false;
    {
      // As in request: the budget's slot first, then a handle; both go back
      // (handle first) before any wait for a retry.
      std::optional<ApiBudget::Slot> slot;
      if (options_.budget) {
        slot = options_.budget->acquire();
        if (!slot)
          return fail(ErrorKind::Api, "{} {}: not sent: certswap is stopping{}", method,
                      url.substr(0, url.find('?')),
                      last_failure.empty() ? "" : " (" + last_failure + ")");
      }
      const BorrowedHandle handle(*handles_);
      CURL* curl = handle.get();
      if (!curl) return fail(ErrorKind::Internal, "libcurl could not create a handle");
      configure(curl, options_, handles_->share.get(), url, method, body, header_list.get(),
                error_buffer, &retry_after);
      Transfer transfer(curl, options_.max_streamed_body_bytes);
      if (!transfer.start()) return fail(ErrorKind::Internal, "libcurl could not start a transfer");
      transfer.pump();  // until the first bytes of the body: the status is known then
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
      const auto transport_failure = [&] { return failure_text(transfer.code(), error_buffer); };
      if (response.status == 0 && !transfer.over_limit()) {
        // No answer at all: the connection, TLS or a timeout failed.
        last_failure = transport_failure();
        retriable = retriable_transport(transfer.code());
        if (!retriable || attempt == attempts) {
          return fail(ErrorKind::Api, "{} {}: {} (after {} attempt{})", method,
                      url.substr(0, url.find('?')), last_failure, attempt, attempt == 1 ? "" : "s");
        }
      } else if (retriable_status(response.status) && attempt < attempts) {
        if (response.status == 429 && retry_after && options_.budget) {
          options_.budget->pause(backoff_delay(options_.retry, attempt, 0.0, retry_after));
        }
        retriable = true;
        last_failure = fmt::format("HTTP {}", response.status);
      } else {
        TransferBuffer buffer(transfer);
        std::istream stream(&buffer);
        read(response.status, stream);
        if (transfer.over_limit()) {
          response.end = BodyEnd::OverLimit;
        } else if (transfer.done() && transfer.code() != CURLE_OK) {
          response.end = BodyEnd::Broken;
          response.failure = transport_failure();
          // Read again from the start (the reader starts afresh per call), but
          // only a GET: a PUT whose status came was acted on upstream.
          retriable = retry_on_failure && method == "GET" && retriable_transport(transfer.code()) &&
                      attempt < attempts;
          last_failure = response.failure;
        }
        if (!retriable) return response;
      }
    }
    const auto delay = backoff_delay(options_.retry, attempt, options_.jitter(), retry_after);
    spdlog::warn("{} {}: {}; retrying in {} ms (attempt {}/{})", method, url, last_failure,
                 delay.count(), attempt + 1, attempts);
    options_.sleep(delay);
    if (options_.budget && options_.budget->stopping()) {
      return fail(ErrorKind::Api, "{} {}: {} (not retried: certswap is stopping)", method,
                  url.substr(0, url.find('?')), last_failure);
    }
  }
  return fail(ErrorKind::Api, "{} {}: {}", method, path, last_failure);
}

}  // namespace certswap
