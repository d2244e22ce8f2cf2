// A reference client of the interview's signaling (docs/api/live.md, docs/e2e.md): what a
// web page or the phone app does, in plain browser JavaScript with no dependencies. The
// browser test (webrtc_e2e_test.cc) injects it into pages on the gateway's origin; a front
// end can read it as a worked example.
//
//   Admissions.api(method, path, body, token)   fetch on this origin, JSON in and out
//   Admissions.login(login, password)           POST /v1/sessions -> tokens
//   new Admissions.InterviewClient({token, roomId, relayOnly})
//     .start()        open /v1/live, authenticate, join; resolves with the first `joined`
//     .stats()        per remote peer: connectionState, frames decoded, bytes sent, ICE pair
//     .dropSocket()   close the WebSocket as a network loss would (the client resumes)
//     .leave()        leave the session for good
//   Admissions.logs                             every line logged (for test diagnostics)
//
// The protocol, as this client follows it:
//   - One WebSocket to /v1/live?access_token=T; after `ready`, `join` with afterSeq = the last
//     `seq` seen (0 the first time). `joined` gives self (role, sendAudio, sendVideo), the
//     peers present, the ICE servers (TURN credentials included) and `gap`.
//   - One RTCPeerConnection per remote peer. The examiner makes the offers to candidate
//     devices; a candidate device answers, and offers itself only to renegotiate an
//     established connection (ICE restart). Between two examiners both may offer.
//   - Perfect negotiation with the server's glare rule: for peers X and Y, X is polite when
//     X > Y byte-wise. The server refuses the polite side's crossing offer (error GLARE); the
//     polite side rolls back and answers the other offer, the impolite side ignores an offer
//     that crosses its own.
//   - Trickle ICE: candidates are sent as gathered; received ones are buffered until the
//     remote description is set.
//   - Media: getUserMedia with the audio and video that `self` allows; a SECONDARY device
//     (the candidate's phone) sends video only and never audio.
//   - Resume: when the WebSocket drops, reconnect with back-off, authenticate and join with
//     afterSeq = last seq; missed messages follow `joined`. With `gap` (some were dropped),
//     restart ICE with every peer. Peer connections are kept across the reconnect: media
//     flows peer to peer and does not need the WebSocket.
(function () {
  'use strict';

  const logs = [];
  const started = performance.now();

  function fmt(a) {
    if (typeof a === 'string') return a;
    if (a instanceof Error) return `${a.name}: ${a.message}`;
    try {
      return JSON.stringify(a);
    } catch (e) {
      return String(a);
    }
  }

  function log(...args) {
    const line = `${((performance.now() - started) / 1000).toFixed(3)} ${args.map(fmt).join(' ')}`;
    logs.push(line);
    if (logs.length > 5000) logs.splice(0, logs.length - 5000);
  }

  window.addEventListener('error', (e) => log('page error:', String(e.message)));
  window.addEventListener('unhandledrejection', (e) => log('unhandled rejection:', fmt(e.reason)));

  async function api(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    log(`${method} ${path} -> ${res.status}`);
    if (!res.ok) {
      const err = new Error(`${method} ${path}: ${res.status} ${text}`);
      err.status = res.status;
      err.body = json;
      throw err;
    }
    return json;
  }

  async function login(loginName, password) {
    return api('POST', '/v1/sessions', {login: loginName, password});
  }

  // Byte-wise comparison of UTF-8 strings, as the server compares peer ids.
  function compareBytes(a, b) {
    const x = new TextEncoder().encode(a);
    const y = new TextEncoder().encode(b);
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) {
      if (x[i] !== y[i]) return x[i] - y[i];
    }
    return x.length - y.length;
  }

  function fingerprint(sdp) {
    const m = /^a=fingerprint:(.*)$/m.exec(sdp || '');
    return m ? m[1].trim() : '';
  }

  // The connection to one remote peer.
  class PeerLink {
    constructor(client, peer) {
      this.client = client;
      this.peer = peer;
      this.id = peer.peerId;
      this.polite = compareBytes(client.self.peerId, peer.peerId) > 0;
      this.makingOffer = false;
      this.ignoreOffer = false;
      this.pending = [];
      this.closed = false;
      this.exchanges = 0;  // Offer/answer exchanges completed.
      this.remoteApplied = 0;  // Remote descriptions applied.
      this.videos = [];
      this.pc = new RTCPeerConnection({
        iceServers: client.iceServers,
        iceTransportPolicy: client.relayOnly ? 'relay' : 'all',
      });
      const pc = this.pc;
      const tag = `[${this.id}]`;
      log(tag, 'new link; polite =', this.polite);

      if (client.localStream) {
        for (const track of client.localStream.getTracks()) pc.addTrack(track, client.localStream);
      }

      pc.onnegotiationneeded = async () => {
        if (!this.mayOffer()) {
          log(tag, 'negotiationneeded: waiting for the examiner\'s offer');
          return;
        }
        try {
          this.makingOffer = true;
          await pc.setLocalDescription();
          if (pc.localDescription.type !== 'offer') return;
          const offer = pc.localDescription.sdp;
          const remoteApplied = this.remoteApplied;
          const hold = client.holdOffersUntil - Date.now();
          if (hold > 0) {
            // Test hook: offers of several pages leave at one moment, so that they cross.
            log(tag, `holding the offer ${hold} ms`);
            await new Promise((r) => setTimeout(r, hold));
            if (pc.signalingState !== 'have-local-offer' || this.remoteApplied !== remoteApplied) {
              log(tag, 'offer superseded while held; not sent');
              return;
            }
          }
          log(tag, 'sending offer');
          client.send({type: 'signal', to: this.id, kind: 'offer', sdp: offer});
        } catch (e) {
          log(tag, 'offer failed:', e);
        } finally {
          this.makingOffer = false;
        }
      };

      pc.onicecandidate = ({candidate}) => {
        if (this.closed) return;
        if (candidate && candidate.candidate) log(tag, 'local candidate', candidate.candidate);
        if (!candidate || !candidate.candidate) {
          client.send({type: 'signal', to: this.id, kind: 'end-of-candidates'});
          return;
        }
        const c = {candidate: candidate.candidate, sdpMid: candidate.sdpMid || ''};
        if (candidate.sdpMLineIndex !== null && candidate.sdpMLineIndex !== undefined) {
          c.sdpMLineIndex = candidate.sdpMLineIndex;
        }
        if (candidate.usernameFragment) c.usernameFragment = candidate.usernameFragment;
        client.send({type: 'signal', to: this.id, kind: 'candidate', candidate: c});
      };

      pc.ontrack = (e) => {
        log(tag, 'remote track', e.track.kind);
        if (e.track.kind !== 'video') return;
        // A playing sink, so that the page decodes like a real one.
        const v = document.createElement('video');
        v.autoplay = true;
        v.muted = true;
        v.playsInline = true;
        v.dataset.peer = this.id;
        v.srcObject = e.streams[0] || new MediaStream([e.track]);
        document.body.appendChild(v);
        this.videos.push(v);
        v.play().catch((err) => log(tag, 'play():', err));
      };

      pc.onconnectionstatechange = () => {
        log(tag, 'connectionState', pc.connectionState);
        if (pc.connectionState === 'failed' && this.mayOffer()) {
          log(tag, 'failed: restarting ICE');
          pc.restartIce();
        }
      };
      pc.oniceconnectionstatechange = () => log(tag, 'iceConnectionState', pc.iceConnectionState);
      pc.onicegatheringstatechange = () => log(tag, 'iceGatheringState', pc.iceGatheringState);
      pc.onicecandidateerror = (e) =>
        log(tag, `ICE candidate error ${e.errorCode} ${e.errorText} (${e.url})`);
      pc.onsignalingstatechange = () => log(tag, 'signalingState', pc.signalingState);
    }

    // The examiner offers; a candidate device offers only once a first exchange is done
    // (renegotiation, ICE restart).
    mayOffer() {
      return this.client.self.role === 'EXAMINER' || this.pc.remoteDescription !== null;
    }

    async onDescription(kind, sdp) {
      const pc = this.pc;
      const tag = `[${this.id}]`;
      const offerCollision =
        kind === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && offerCollision;
      if (this.ignoreOffer) {
        log(tag, 'glare: ignoring their offer (we are impolite)');
        this.client.glare.ignored++;
        return;
      }
      if (offerCollision) {
        log(tag, 'glare: rolling back ours, answering theirs (we are polite)');
        this.client.glare.rolledBack++;
      }
      // Chrome rolls back a pending local offer implicitly.
      await pc.setRemoteDescription({type: kind, sdp});
      this.remoteApplied++;
      const buffered = this.pending.splice(0);
      for (const c of buffered) await this.addCandidate(c);
      if (kind === 'offer') {
        await pc.setLocalDescription();
        log(tag, 'sending answer');
        this.client.send({type: 'signal', to: this.id, kind: 'answer', sdp: pc.localDescription.sdp});
      }
      this.exchanges++;
    }

    async onCandidate(c) {
      if (!this.pc.remoteDescription) {
        this.pending.push(c);
        return;
      }
      await this.addCandidate(c);
    }

    async addCandidate(c) {
      try {
        if (c === null) {
          await this.pc.addIceCandidate();
        } else {
          await this.pc.addIceCandidate(c);
        }
      } catch (e) {
        if (!this.ignoreOffer) log(`[${this.id}]`, 'addIceCandidate:', e);
      }
    }

    restartIce() {
      log(`[${this.id}]`, 'ICE restart');
      this.pc.restartIce();
    }

    close() {
      this.closed = true;
      this.pc.close();
      for (const v of this.videos) v.remove();
    }
  }

  class InterviewClient {
    // video: getUserMedia's video constraints when the role sends video (true: the default
    // camera); relayOnly: iceTransportPolicy "relay" (TURN only).
    // holdOffersUntil (tests): epoch ms before which no offer is sent.
    constructor({token, roomId, relayOnly = false, video = true, holdOffersUntil = 0}) {
      this.token = token;
      this.roomId = roomId;
      this.relayOnly = relayOnly;
      this.videoConstraints = video;
      this.holdOffersUntil = holdOffersUntil;
      this.glare = {refused: 0, ignored: 0, rolledBack: 0};
      this.lastJoinAfterSeq = null;
      this.ws = null;
      this.lastSeq = 0;
      this.epoch = '0';
      this.self = null;
      this.peers = new Map();
      this.links = new Map();
      this.iceServers = [];
      this.localStream = null;
      this.joinedCount = 0;
      this.reconnects = 0;
      this.backoffMs = 250;
      this.left = false;
      this.ended = null;
      this.replaced = false;
      this.gaps = 0;
      this.errors = [];
      this.queue = Promise.resolve();
      this.nextId = 1;
      this.joinedWaiters = [];
    }

    start() {
      const first = new Promise((resolve, reject) => this.joinedWaiters.push({resolve, reject}));
      this.connect();
      return first;
    }

    connect() {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const url = `${scheme}//${location.host}/v1/live?access_token=${encodeURIComponent(this.token)}`;
      const ws = new WebSocket(url);
      this.ws = ws;
      log('ws: connecting');
      ws.onopen = () => log('ws: open');
      ws.onmessage = (e) => {
        let m;
        try {
          m = JSON.parse(e.data);
        } catch (err) {
          log('ws: bad frame', e.data);
          return;
        }
        // One message at a time, in order: a handler may await (media, SDP).
        this.queue = this.queue
          .then(() => this.handle(ws, m))
          .catch((err) => log('handler error for', m.type, err));
      };
      ws.onclose = (e) => {
        log(`ws: closed ${e.code} ${e.reason}`);
        if (this.ws !== ws) return;
        this.ws = null;
        if (this.left || this.ended || this.replaced) return;
        if (e.code === 4401 || e.code === 4403) {
          this.fail(new Error(`live channel refused: ${e.code} ${e.reason}`));
          return;
        }
        const delay = this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, 4000);
        this.reconnects++;
        log(`ws: reconnecting in ${delay} ms (afterSeq ${this.lastSeq})`);
        setTimeout(() => {
          if (!this.left && !this.ended && !this.ws) this.connect();
        }, delay);
      };
    }

    fail(err) {
      log('fatal:', err);
      for (const w of this.joinedWaiters.splice(0)) w.reject(err);
    }

    send(m) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        // The server keeps nothing we failed to send: ICE restart after the resume covers it.
        log('send dropped (socket down):', m.type, m.kind || '');
        return false;
      }
      this.ws.send(JSON.stringify(m));
      return true;
    }

    // Returns false for a delivery already seen (its seq is not above the last one).
    takeSeq(m) {
      if (m.seq === undefined || m.seq === null) return true;
      const seq = Number(m.seq);
      if (seq === 0) return true;
      if (seq <= this.lastSeq) {
        log('duplicate seq', seq, 'ignored');
        return false;
      }
      if (seq !== this.lastSeq + 1 && this.lastSeq !== 0) log('seq jumped', this.lastSeq, '->', seq);
      this.lastSeq = seq;
      return true;
    }

    async handle(ws, m) {
      if (ws !== this.ws) return;
      switch (m.type) {
        case 'ready':
          log('ready as', m.accountId, '; join after', this.lastSeq);
          this.lastJoinAfterSeq = this.lastSeq;
          this.send({
            type: 'join',
            roomId: this.roomId,
            afterSeq: String(this.lastSeq),
            id: `join-${this.nextId++}`,
          });
          return;
        case 'joined':
          await this.onJoined(m);
          return;
        case 'signal':
          if (this.takeSeq(m)) await this.onSignal(m);
          return;
        case 'peer-joined':
          if (!this.takeSeq(m)) return;
          log('peer-joined', m.peer.peerId, m.peer.role);
          this.peers.set(m.peer.peerId, m.peer);
          if (this.links.has(m.peer.peerId)) {
            // It left and came back (or reloaded): its old connection is gone.
            this.links.get(m.peer.peerId).close();
            this.links.delete(m.peer.peerId);
          }
          this.ensureLink(m.peer);
          return;
        case 'peer-left':
          if (!this.takeSeq(m)) return;
          log('peer-left', m.peerId, m.reason);
          this.peers.delete(m.peerId);
          if (this.links.has(m.peerId)) {
            this.links.get(m.peerId).close();
            this.links.delete(m.peerId);
          }
          return;
        case 'peer-updated':
          if (!this.takeSeq(m)) return;
          log('peer-updated', m.peer);
          this.peers.set(m.peer.peerId, m.peer);
          return;
        case 'session-ended':
          this.takeSeq(m);
          log('session-ended', m.reason);
          this.ended = m.reason || 'ENDED';
          for (const link of this.links.values()) link.close();
          this.links.clear();
          ws.close(1000, 'session ended');
          return;
        case 'replaced':
          log('replaced by a newer connection');
          this.replaced = true;
          return;
        case 'pong':
          return;
        case 'error':
          log('error from server:', m);
          this.errors.push({code: m.code, message: m.message, ref: m.ref});
          if (m.code === 'GLARE') {
            this.glare.refused++;
            // Our offer crossed theirs and we are the polite side: theirs is on its way.
            log('glare: our offer was refused; answering theirs');
          } else if (typeof m.ref === 'string' && m.ref.startsWith('join-') && this.joinedCount === 0) {
            this.fail(new Error(`join refused: ${m.code} ${m.message}`));
          }
          return;
        default:
          log('ignored message type', m.type);
      }
    }

    async onJoined(m) {
      this.self = m.self;
      this.epoch = m.epoch;
      this.iceServers = (m.ice && m.ice.iceServers) || [];
      this.joinedCount++;
      this.backoffMs = 250;
      log('joined', {
        interviewId: m.interviewId,
        self: m.self,
        peers: (m.peers || []).map((p) => `${p.peerId}:${p.role}`),
        lastSeq: m.lastSeq,
        epoch: m.epoch,
        gap: m.gap,
        iceServers: this.iceServers.map((s) => s.urls),
      });
      this.interviewId = m.interviewId;
      if (!this.localStream && (m.self.sendAudio || m.self.sendVideo)) {
        this.localStream = await navigator.mediaDevices.getUserMedia({
          audio: !!m.self.sendAudio,
          video: m.self.sendVideo ? this.videoConstraints : false,
        });
        log('media:', this.localStream.getTracks().map((t) => t.kind));
      }
      for (const link of this.links.values()) {
        link.pc.setConfiguration({
          iceServers: this.iceServers,
          iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
        });
      }
      for (const p of m.peers || []) {
        this.peers.set(p.peerId, p);
        this.ensureLink(p);
      }
      if (m.gap && this.joinedCount > 1) {
        this.gaps++;
        log('gap: messages were lost while away; restarting ICE with every peer');
        for (const link of this.links.values()) {
          if (link.pc.remoteDescription) link.restartIce();
        }
      }
      for (const w of this.joinedWaiters.splice(0)) w.resolve(this.summary());
    }

    // Candidate devices connect to examiners only; examiners to everyone.
    wantsLink(peer) {
      if (!this.self || peer.peerId === this.self.peerId) return false;
      return this.self.role === 'EXAMINER' || peer.role === 'EXAMINER';
    }

    ensureLink(peer) {
      if (this.links.has(peer.peerId) || !this.wantsLink(peer)) return this.links.get(peer.peerId);
      const link = new PeerLink(this, peer);
      this.links.set(peer.peerId, link);
      return link;
    }

    async onSignal(m) {
      const from = m.from;
      let link = this.links.get(from);
      if (m.kind === 'offer' && link && link.pc.remoteDescription &&
          fingerprint(link.pc.remoteDescription.sdp) !== fingerprint(m.sdp)) {
        // A new RTCPeerConnection on their side (a reload): start over with it.
        log(`[${from}]`, 'offer from a new connection of the peer; replacing ours');
        link.close();
        this.links.delete(from);
        link = undefined;
      }
      if (!link) {
        const peer = this.peers.get(from) || {peerId: from, role: 'PEER_ROLE_UNSPECIFIED'};
        link = new PeerLink(this, peer);
        this.links.set(from, link);
      }
      switch (m.kind) {
        case 'offer':
        case 'answer':
          log(`[${from}]`, 'received', m.kind);
          await link.onDescription(m.kind, m.sdp);
          return;
        case 'candidate': {
          const c = m.candidate || {};
          const init = {candidate: c.candidate, sdpMid: c.sdpMid || null};
          if (c.sdpMLineIndex !== undefined && c.sdpMLineIndex !== null) {
            init.sdpMLineIndex = c.sdpMLineIndex;
          }
          if (c.usernameFragment) init.usernameFragment = c.usernameFragment;
          await link.onCandidate(init);
          return;
        }
        case 'end-of-candidates':
          await link.onCandidate(null);
          return;
        default:
          log(`[${from}]`, 'unknown signal kind', m.kind);
      }
    }

    ping(id) {
      return this.send({type: 'ping', id});
    }

    dropSocket() {
      log('test: dropping the WebSocket');
      if (this.ws) this.ws.close(4000, 'client dropped');
    }

    leave() {
      this.left = true;
      this.send({type: 'leave'});
      for (const link of this.links.values()) link.close();
      this.links.clear();
      if (this.ws) this.ws.close(1000, 'left');
    }

    summary() {
      return {
        self: this.self,
        interviewId: this.interviewId,
        peers: [...this.peers.values()],
        lastSeq: this.lastSeq,
        epoch: this.epoch,
        joinedCount: this.joinedCount,
        lastJoinAfterSeq: this.lastJoinAfterSeq,
        reconnects: this.reconnects,
        gaps: this.gaps,
        glare: this.glare,
        wsOpen: !!this.ws && this.ws.readyState === WebSocket.OPEN,
        iceServers: this.iceServers,
        localTracks: this.localStream ? this.localStream.getTracks().map((t) => t.kind) : [],
        errors: this.errors,
        ended: this.ended,
        replaced: this.replaced,
      };
    }

    async stats() {
      const links = {};
      for (const [id, link] of this.links) {
        const report = await link.pc.getStats();
        const s = {
          role: link.peer.role,
          connectionState: link.pc.connectionState,
          iceConnectionState: link.pc.iceConnectionState,
          signalingState: link.pc.signalingState,
          exchanges: link.exchanges,
          framesDecoded: 0,
          inbound: {},
          outbound: {},
          sendingTracks: link.pc.getSenders().filter((x) => x.track).map((x) => x.track.kind),
          pair: null,
        };
        const byId = new Map();
        let pairId = null;
        report.forEach((r) => {
          byId.set(r.id, r);
          if (r.type === 'inbound-rtp') {
            const k = s.inbound[r.kind] || {packetsReceived: 0, bytesReceived: 0, framesDecoded: 0};
            k.packetsReceived += r.packetsReceived || 0;
            k.bytesReceived += r.bytesReceived || 0;
            k.framesDecoded += r.framesDecoded || 0;
            s.inbound[r.kind] = k;
            if (r.kind === 'video') s.framesDecoded += r.framesDecoded || 0;
          } else if (r.type === 'outbound-rtp') {
            const k = s.outbound[r.kind] || {packetsSent: 0, bytesSent: 0};
            k.packetsSent += r.packetsSent || 0;
            k.bytesSent += r.bytesSent || 0;
            s.outbound[r.kind] = k;
          } else if (r.type === 'transport' && r.selectedCandidatePairId) {
            pairId = r.selectedCandidatePairId;
          }
        });
        const pair = pairId ? byId.get(pairId) : null;
        if (pair) {
          const local = byId.get(pair.localCandidateId) || {};
          const remote = byId.get(pair.remoteCandidateId) || {};
          s.pair = {
            local: `${local.candidateType} ${local.address}:${local.port} ${local.protocol}`,
            remote: `${remote.candidateType} ${remote.address}:${remote.port} ${remote.protocol}`,
            localType: local.candidateType,
            remoteType: remote.candidateType,
          };
        }
        links[id] = s;
      }
      return Object.assign(this.summary(), {links});
    }
  }

  window.Admissions = {api, login, log, logs, compareBytes, InterviewClient};
  log('client.js loaded');
})();
