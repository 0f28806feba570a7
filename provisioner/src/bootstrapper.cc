#include "kaas/provisioner/bootstrapper.h"

#include <algorithm>
#include <fstream>

#include "kaas/provisioner/process.h"

namespace kaas::provisioner {
Status WriteTextFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Internal("cannot write " + path.string());
  out << content;
  return out ? Status::Ok() : Internal("cannot write " + path.string());
}

StagedFiles::~StagedFiles() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Result<std::unique_ptr<StagedFiles>> StageFiles(const BootstrapJob& job) {
  namespace fs = std::filesystem;
  auto staged = std::make_unique<StagedFiles>(fs::absolute(job.work_dir / "files"));
  std::error_code ec;
  fs::remove_all(staged->dir(), ec);  // a run killed before its cleanup left it
  for (const auto& [name, content] : job.files) {
    fs::path rel = fs::path(name).lexically_normal();
    if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") {
      return InvalidArgument("files", "file path " + name + " leaves the staging folder");
    }
    fs::path path = staged->dir() / rel;
    for (fs::path d = path.parent_path(); !fs::exists(d); d = d.parent_path()) {
      fs::create_directories(d, ec);
      if (ec) return Internal("cannot create " + d.string() + ": " + ec.message());
    }
    fs::permissions(staged->dir(), fs::perms::owner_all, ec);
    {
      std::ofstream touch(path, std::ios::trunc);  // created empty, then narrowed, then filled
      if (!touch) return Internal("cannot write " + path.string());
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
    if (ec) return Internal("cannot restrict " + path.string() + ": " + ec.message());
    KAAS_RETURN_IF_ERROR(WriteTextFile(path, content));
  }
  return staged;
}

SyntaxCheck CheckPlaybooks(const std::filesystem::path& dir) {
  SyntaxCheck check;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yml") check.playbooks.push_back(entry.path().filename());
  }
  std::sort(check.playbooks.begin(), check.playbooks.end());
  if (check.playbooks.empty()) {
    check.status = NotFound("no playbooks in " + dir.string());
    return check;
  }
  std::vector<std::string> argv = {"ansible-playbook", "--syntax-check", "-i", "localhost,", "-e",
                                   "target_node=all"};
  argv.insert(argv.end(), check.playbooks.begin(), check.playbooks.end());
  auto run = RunProcess(argv, dir.string(), 120000);
  if (!run.ok()) {
    check.status = run.status();
  } else if (run->exit_code != 0) {
    check.status =
        Status(Code::kFailedPrecondition, "ansible-playbook --syntax-check failed: " + run->output);
  }
  return check;
}

}  // namespace kaas::provisioner
