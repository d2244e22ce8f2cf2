#pragma once

namespace admissions {

/// Raises the largest request message the gRPC servers of this process accept
/// (gRPC's default is 4 MiB), for services that take big bodies (a roster CSV of up to
/// 16 MiB through the gateway). Call before RunGrpcServer; applies to every server
/// built afterwards. Done with a server builder plugin so that RunGrpcServer stays as
/// it is; GrpcServerOptions could carry it instead.
void SetServerMaxReceiveMessageBytes(int bytes);

}  // namespace admissions
