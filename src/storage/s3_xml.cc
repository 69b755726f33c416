#include "storage/s3_xml.h"

#include <ctime>
#include <iomanip>
#include <sstream>

#include <pugixml.hpp>

#include "core/time_text.h"

namespace swapline::storage {
namespace {

Result<pugi::xml_document*> Load(pugi::xml_document& doc, const std::string& body) {
  if (!doc.load_string(body.c_str())) {
    return Unavailable("the server answered with a document that is not XML");
  }
  return &doc;
}

std::uint64_t ToUint(const char* text) { return std::strtoull(text, nullptr, 10); }

// ListObjectsV2 with encoding-type=url percent-encodes keys and prefixes.
// A '%' not followed by two hex digits is kept as it is: the text comes from the
// server, and std::stoi threw on it (found by fuzz_s3_xml).
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 && HexDigit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2])));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

std::string Unquote(const std::string& etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

S3Error ParseS3Error(const std::string& body) {
  S3Error error;
  pugi::xml_document doc;
  if (body.empty() || !doc.load_string(body.c_str())) return error;
  const pugi::xml_node root = doc.child("Error");
  if (!root) return error;
  error.code = root.child_value("Code");
  error.message = root.child_value("Message");
  error.request_id = root.child_value("RequestId");
  return error;
}

Result<ListPage> ParseListObjectsV2(const std::string& body) {
  pugi::xml_document doc;
  SWAPLINE_RETURN_IF_ERROR(Load(doc, body).status());
  const pugi::xml_node root = doc.child("ListBucketResult");
  if (!root) return Unavailable("ListObjectsV2 answer has no ListBucketResult");
  const bool url_encoded = std::string(root.child_value("EncodingType")) == "url";
  auto decode = [url_encoded](const char* text) {
    return url_encoded ? UrlDecode(text) : std::string(text);
  };
  ListPage page;
  for (pugi::xml_node node : root.children("Contents")) {
    ObjectInfo info;
    info.key = decode(node.child_value("Key"));
    if (info.key.empty()) return Unavailable("ListObjectsV2 answer lists an object without a key");
    info.size = ToUint(node.child_value("Size"));
    info.etag = Unquote(node.child_value("ETag"));
    info.last_modified = ParseIso8601(node.child_value("LastModified")).value_or(
        std::chrono::system_clock::time_point{});
    page.objects.push_back(std::move(info));
  }
  for (pugi::xml_node node : root.children("CommonPrefixes")) {
    page.common_prefixes.push_back(decode(node.child_value("Prefix")));
  }
  if (std::string(root.child_value("IsTruncated")) == "true") {
    page.next_continuation_token = root.child_value("NextContinuationToken");
  }
  return page;
}

Result<PartsPage> ParseListParts(const std::string& body) {
  pugi::xml_document doc;
  SWAPLINE_RETURN_IF_ERROR(Load(doc, body).status());
  const pugi::xml_node root = doc.child("ListPartsResult");
  if (!root) return Unavailable("ListParts answer has no ListPartsResult");
  PartsPage page;
  for (pugi::xml_node node : root.children("Part")) {
    page.parts.push_back({static_cast<int>(ToUint(node.child_value("PartNumber"))),
                          ToUint(node.child_value("Size")), Unquote(node.child_value("ETag"))});
  }
  if (std::string(root.child_value("IsTruncated")) == "true") {
    page.next_marker = static_cast<int>(ToUint(root.child_value("NextPartNumberMarker")));
  }
  return page;
}

Result<UploadsPage> ParseListMultipartUploads(const std::string& body) {
  pugi::xml_document doc;
  SWAPLINE_RETURN_IF_ERROR(Load(doc, body).status());
  const pugi::xml_node root = doc.child("ListMultipartUploadsResult");
  if (!root) return Unavailable("ListMultipartUploads answer has no ListMultipartUploadsResult");
  UploadsPage page;
  for (pugi::xml_node node : root.children("Upload")) {
    page.uploads.push_back({node.child_value("Key"), node.child_value("UploadId"),
                            ParseIso8601(node.child_value("Initiated"))
                                .value_or(std::chrono::system_clock::time_point{})});
  }
  if (std::string(root.child_value("IsTruncated")) == "true") {
    page.next_key_marker = root.child_value("NextKeyMarker");
    page.next_upload_id_marker = root.child_value("NextUploadIdMarker");
  }
  return page;
}

Result<std::string> ParseElementText(const std::string& body, const char* name) {
  pugi::xml_document doc;
  SWAPLINE_RETURN_IF_ERROR(Load(doc, body).status());
  const pugi::xml_node node = doc.select_node((std::string("//") + name).c_str()).node();
  if (!node) return Unavailable(std::string("the server's answer holds no ") + name);
  return std::string(node.child_value());
}

std::string BuildCompleteMultipartXml(const std::vector<UploadedPart>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const UploadedPart& part : parts) {
    xml += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>\"" +
           part.etag + "\"</ETag></Part>";
  }
  return xml + "</CompleteMultipartUpload>";
}

}  // namespace swapline::storage
