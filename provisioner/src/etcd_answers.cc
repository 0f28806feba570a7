#include <map>
#include <nlohmann/json.hpp>

#include "kaas/provisioner/bootstrapper.h"

namespace kaas::provisioner {

Result<EtcdView> ParseEtcdAnswers(const std::string& member_list_json,
                                  const std::string& endpoint_health_json) {
  using nlohmann::json;
  EtcdView view;
  try {
    const json list = json::parse(member_list_json);
    // An endpoint's answer, by client URL (`endpoint health --cluster` asks every started
    // member; a learner that has not started has no client URL and is not asked).
    std::map<std::string, std::pair<bool, std::string>> health;
    const json answers = json::parse(endpoint_health_json);
    if (!answers.is_array()) return InvalidArgument("etcd", "endpoint health is not a list");
    for (const auto& a : answers) {
      health[a.at("endpoint").get<std::string>()] = {a.value("health", false),
                                                     a.value("error", std::string())};
    }
    for (const auto& m : list.at("members")) {
      EtcdMember member;
      member.name = m.value("name", std::string());
      member.learner = m.value("isLearner", false);
      if (m.contains("peerURLs") && !m["peerURLs"].empty()) {
        member.peer_url = m["peerURLs"][0].get<std::string>();
      }
      if (m.contains("clientURLs") && !m["clientURLs"].empty()) {
        member.client_url = m["clientURLs"][0].get<std::string>();
      }
      if (auto h = health.find(member.client_url); h != health.end()) {
        member.healthy = h->second.first;
        member.error = h->second.second;
      } else {
        member.error = member.client_url.empty() ? "not started" : "not asked";
      }
      view.members.push_back(std::move(member));
    }
  } catch (const json::exception& e) {
    return InvalidArgument("etcd",
                           std::string("etcdctl's answer is not what it prints: ") + e.what());
  }
  return view;
}

}  // namespace kaas::provisioner
