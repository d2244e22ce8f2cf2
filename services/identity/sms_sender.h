#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/crypto.h"
#include "identity/identity_store.h"

namespace admissions::identity {

/// Sends SMS codes. Production plugs a carrier's API in here; development mode
/// and the tests use OutboxSmsSender.
class SmsSender {
 public:
  virtual ~SmsSender() = default;
  virtual absl::Status Send(const std::string& phone, int purpose, const std::string& code) = 0;
};

/// Development form: "sends" into the sms_outbox table (sealed like every phone),
/// read back through GET /v1/dev/sms-outbox.
class OutboxSmsSender : public SmsSender {
 public:
  OutboxSmsSender(IdentityStore* store, const SecretBox* box, const BlindIndex* index)
      : store_(store), box_(box), index_(index) {}
  absl::Status Send(const std::string& phone, int purpose, const std::string& code) override {
    return store_->AppendOutbox(HexEncode(index_->Compute("phone", phone)),
                                Base64Encode(box_->Seal(phone)), purpose,
                                Base64Encode(box_->Seal(code)));
  }

 private:
  IdentityStore* store_;
  const SecretBox* box_;
  const BlindIndex* index_;
};

}  // namespace admissions::identity
