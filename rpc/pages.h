#pragma once
// The static pages the RPC port serves to browsers (today the worker page,
// /worker: docs/worker.md, "In a browser"). The files are read once, when
// the node starts, from one directory (built by meson from web/pages/ and
// installed in share/verity/pages) and held in memory: a request only looks
// a path up in a table, so no request touches the file system, and no path
// a client makes up can reach a file outside that table.
//
//   /worker, /worker/   ->  /worker/index.html
//   /worker/app.js      ->  /worker/app.js
//
// The query string is ignored. Answers carry a Content-Security-Policy that
// lets a page load only the node's own scripts, connect only to the node
// (its JSON-RPC and WebSocket) and compile WebAssembly, and forbids framing
// (the worker page holds a key): Pages::kSecurityHeaders.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace verity::rpc {

struct Page {
  std::string body;
  std::string content_type;
};

class Pages {
 public:
  // Bounds on what load() reads, so a wrong directory (a home directory,
  // "/") fails at start instead of filling memory.
  static constexpr std::size_t kMaxFiles = 256;
  static constexpr std::size_t kMaxTotalBytes = 32u << 20;

  // Every regular file below `dir` (links are not followed), by its path
  // relative to it with a leading "/". Errors (reason "bad-pages-dir"): not
  // a directory, unreadable, more than kMaxFiles or kMaxTotalBytes, or no
  // file at all.
  static Result<Pages> load(const std::string& dir);

  // The page for a request target, or nullptr.
  const Page* find(std::string_view target) const;
  std::size_t size() const { return files_.size(); }
  const std::string& dir() const { return dir_; }

  // Sent with every page.
  static const std::vector<std::pair<std::string_view, std::string_view>>& security_headers();
  // The MIME type of a file name by its extension (application/octet-stream
  // for others).
  static std::string content_type_of(std::string_view name);

 private:
  std::string dir_;
  std::map<std::string, Page, std::less<>> files_;
};

}  // namespace verity::rpc
