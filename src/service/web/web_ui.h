// The web page of `swapline serve`: GET / answers index.html and GET /ui/{file}
// its script, style sheet and icon. The files are compiled into the binary
// (assets/, embedded by embed_assets.cmake), so serving them needs nothing on disk.
//
// The page is a client of the public API and nothing else: it calls /v1/* with the
// tenant's bearer token (kept in the tab's sessionStorage) or, without --tokens, as
// a loopback client, and moves media through the signed URLs the API issues.
//
// Every answer carries a strict Content-Security-Policy: scripts and styles only
// from this origin (no inline code), connections, images and media only to this
// origin and, for an S3 store, the store's own origin (presigned URLs), never a
// third party.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/object_store.h"
#include "storage/storage_uri.h"

namespace swapline::service {

// One file of the page, answered to GET `path` with `headers`.
struct WebPage {
  std::string path;  // "/" or "/ui/{file}"
  std::string_view bytes;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type and the policy headers
};

// The Content-Security-Policy of the page. `store_origin` ("https://s3.example.com",
// or "" for none) is allowed for uploads, previews and downloads.
std::string WebUiContentSecurityPolicy(const std::string& store_origin);

// The page's files (GET / and GET /ui/{file}). For an S3 store, the origin of its
// presigned URLs is read once from `store` (a local computation) for the policy.
std::vector<WebPage> WebUiPages(storage::ObjectStore& store, const storage::StorageUri& store_uri);

}  // namespace swapline::service
