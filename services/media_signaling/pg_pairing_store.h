#pragma once

#include "common/pg.h"
#include "media_signaling/media_signaling_store.h"

namespace admissions::media_signaling {

/// PairingStore on PostgreSQL (schema `media`).
class PgPairingStore final : public PairingStore {
 public:
  PgPairingStore(const std::string& uri, int pool_size);

  absl::Status CreateCode(const PairingCodeRow& row) override;
  absl::StatusOr<std::optional<PairingCodeRow>> FindCode(const std::string& code_hash) override;
  absl::StatusOr<std::string> Pair(const std::string& code_hash, const std::string& account_id,
                                   const std::string& phone_session_id,
                                   const std::function<absl::Status()>& before_commit) override;
  absl::StatusOr<std::optional<std::string>> PhoneSession(const std::string& account_id,
                                                          const std::string& room_id) override;
  absl::Status RecordLoss(const DeviceLoss& loss) override;
  absl::StatusOr<std::vector<DeviceLoss>> UnreportedLosses(int limit) override;
  absl::Status MarkReported(int64_t id) override;

  bool Ping() { return pool_.Ping(); }

 private:
  PgPool pool_;
};

}  // namespace admissions::media_signaling
