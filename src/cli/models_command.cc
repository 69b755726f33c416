// `swapline models list | pull NAME… | verify [NAME…] | path NAME | rm NAME…`: the
// models folder (--models-dir, SWAPLINE_MODELS_DIR, else under the XDG cache dir).
// Jobs name models; this command fills and checks the folder they are resolved in.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/s3_flags.h"
#include "models/model_dir.h"

namespace swapline::cli {
namespace {

struct ModelsArgs {
  std::string models_dir;
  std::string manifest;
  std::vector<std::string> names;
  std::vector<std::string> mirrors;
  std::vector<std::string> accepted;
  bool quiet = false;
  storage::S3Settings s3;
};

std::string Megabytes(std::uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

// Runs `body` with the models folder of `args` (its manifest loaded).
template <typename Body>
int WithModelDir(const ModelsArgs& args, Body body) {
  auto manifest = models::ModelManifest::EmbeddedWith(args.manifest);
  if (!manifest.ok()) return Fail(manifest.status().WithContext("--manifest"));
  models::ModelDir dir(models::ModelsDirOr(args.models_dir), *manifest);
  return body(dir);
}

int RunList(const ModelsArgs& args) {
  return WithModelDir(args, [](models::ModelDir& dir) {
    std::printf("models folder: %s\n", dir.root().c_str());
    std::printf("%-16s %-11s %10s  %-10s %-11s %s\n", "NAME", "KIND", "SIZE", "STATE", "COMMERCIAL", "LICENSE");
    for (const models::ModelEntry& entry : dir.manifest().entries()) {
      const models::ModelStatus status = dir.Inspect(entry, /*verify_checksum=*/false);
      std::string state = models::ModelStateName(status.state);
      if (status.state == models::ModelState::kPartial) {
        state += fmt::format(" {}%", status.bytes * 100 / entry.size);
      }
      std::printf("%-16s %-11s %10s  %-10s %-11s %s\n", entry.name.c_str(), models::ModelKindName(entry.kind),
                  Megabytes(entry.size).c_str(), state.c_str(), entry.commercial_use ? "yes" : "NO",
                  entry.license.c_str());
    }
    return static_cast<int>(kExitOk);
  });
}

int RunPull(const ModelsArgs& args) {
  return WithModelDir(args, [&](models::ModelDir& dir) {
    models::PullOptions options;
    options.mirrors = args.mirrors;
    options.accepted_licenses = {args.accepted.begin(), args.accepted.end()};
    options.s3 = args.s3;
    for (const std::string& name : args.names) {
      int last_percent = -1;
      if (!args.quiet) {
        options.progress = [&](std::uint64_t done, std::uint64_t total) {
          const int percent = static_cast<int>(done * 100 / std::max<std::uint64_t>(total, 1));
          if (percent == last_percent) return;
          last_percent = percent;
          std::fprintf(stderr, "\r%s: %3d%% of %s", name.c_str(), percent, Megabytes(total).c_str());
          std::fflush(stderr);
        };
      }
      auto path = dir.Pull(name, options);
      if (last_percent >= 0) std::fputc('\n', stderr);
      if (!path.ok()) return RemoteFail(path.status());
      std::printf("%s %s\n", name.c_str(), path->c_str());
    }
    return static_cast<int>(kExitOk);
  });
}

int RunVerify(const ModelsArgs& args) {
  return WithModelDir(args, [&](models::ModelDir& dir) {
    int exit_code = kExitOk;
    for (const models::ModelEntry& entry : dir.manifest().entries()) {
      const bool named = std::find(args.names.begin(), args.names.end(), entry.name) != args.names.end();
      if (!args.names.empty() && !named) continue;
      const models::ModelStatus status = dir.Inspect(entry, /*verify_checksum=*/true);
      if (status.state == models::ModelState::kCorrupt) {
        std::printf("%s: corrupt (%s)\n", entry.name.c_str(), status.problem.c_str());
        exit_code = kExitMissingModel;
      } else {
        std::printf("%s: %s\n", entry.name.c_str(), models::ModelStateName(status.state));
        // Asked for by name, a model that is not there is a failure too.
        if (named && status.state != models::ModelState::kInstalled) exit_code = kExitMissingModel;
      }
    }
    for (const std::string& name : args.names) {
      if (dir.manifest().Find(name) == nullptr) {
        std::printf("%s: unknown model\n", name.c_str());
        exit_code = kExitMissingModel;
      }
    }
    return exit_code;
  });
}

int RunPath(const ModelsArgs& args) {
  return WithModelDir(args, [&](models::ModelDir& dir) {
    auto path = dir.Resolve(args.names.front(), {args.accepted.begin(), args.accepted.end()});
    if (!path.ok()) return Fail(path.status());
    std::printf("%s\n", path->c_str());
    return static_cast<int>(kExitOk);
  });
}

int RunRemove(const ModelsArgs& args) {
  return WithModelDir(args, [&](models::ModelDir& dir) {
    for (const std::string& name : args.names) {
      const Status removed = dir.Remove(name);
      if (!removed.ok()) return Fail(removed);
    }
    return static_cast<int>(kExitOk);
  });
}

void AddFolderFlags(CLI::App* cmd, ModelsArgs& args) {
  cmd->add_option("--models-dir", args.models_dir, "models folder (default: $SWAPLINE_MODELS_DIR, else ~/.cache/swapline/models)")
      ->envname("SWAPLINE_MODELS_DIR");
  cmd->add_option("--manifest", args.manifest, "a JSON manifest adding or replacing models by name")
      ->envname("SWAPLINE_MODELS_MANIFEST");
}

}  // namespace

void RegisterModelsCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ModelsArgs>();
  CLI::App* models = app.add_subcommand("models", "list, fetch, check and remove face models");
  models->require_subcommand(1);

  CLI::App* list = models->add_subcommand("list", "known models, their licenses and whether they are installed");
  AddFolderFlags(list, *args);
  list->callback([args, &exit_code] { exit_code = RunList(*args); });

  CLI::App* pull = models->add_subcommand("pull", "fetch models (resumable), checked against their sha256");
  AddFolderFlags(pull, *args);
  pull->add_option("names", args->names, "model names")->required();
  pull->add_option("--from", args->mirrors,
                   "a mirror holding the manifest's file paths, tried before the models' own sources "
                   "(file:///DIR, s3://BUCKET/PREFIX); repeatable")
      ->allow_extra_args(false);
  pull->add_option("--accept-license", args->accepted, "accept the non-commercial license of this model; repeatable")
      ->allow_extra_args(false);
  pull->add_flag("--quiet", args->quiet, "no progress");
  AddS3Flags(pull, args->s3, "");
  pull->callback([args, &exit_code] { exit_code = RunPull(*args); });

  CLI::App* verify = models->add_subcommand("verify", "hash installed models; exit 6 if one is corrupt or a named one is missing");
  AddFolderFlags(verify, *args);
  verify->add_option("names", args->names, "only these models");
  verify->callback([args, &exit_code] { exit_code = RunVerify(*args); });

  CLI::App* path = models->add_subcommand("path", "print the verified path of an installed model");
  AddFolderFlags(path, *args);
  path->add_option("name", args->names, "model name")->required()->expected(1);
  path->add_option("--accept-license", args->accepted, "accept the non-commercial license of this model")
      ->allow_extra_args(false);
  path->callback([args, &exit_code] { exit_code = RunPath(*args); });

  CLI::App* remove = models->add_subcommand("rm", "remove models and their partial downloads");
  AddFolderFlags(remove, *args);
  remove->add_option("names", args->names, "model names")->required();
  remove->callback([args, &exit_code] { exit_code = RunRemove(*args); });
}

}  // namespace swapline::cli
