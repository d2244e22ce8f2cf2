#!/usr/bin/env bash
# Demo data for `make run`, loaded through the HTTP API (curl + jq) once the gateway is
# ready: a school, an exam with a fee and a materials window, its roster with a demo
# candidate and a few others, the candidate's account (registered through the dev SMS
# outbox) and a school admin. Idempotent: what exists is found and kept, the roster
# re-import updates; run it as often as you like.
#
# usage: demo.sh GATEWAY_URL        (development mode only: it reads the SMS outbox)
set -euo pipefail

url=${1:?usage: demo.sh GATEWAY_URL}

DEMO_SCHOOL_CODE=DEMO
DEMO_SCHOOL_NAME="示范大学 Demo University"
DEMO_EXAM_TITLE="2025 硕士研究生复试 Demo interview"
DEMO_NAME="张三"
DEMO_ID="11010519491231002X"
DEMO_PHONE="13800000000"
DEMO_PASSWORD="demo-pass-123"
DEMO_ADMIN_LOGIN="demo-admin"
DEMO_ADMIN_PASSWORD="demo-admin-pass"
DEMO_EXAMINER_LOGIN="demo-examiner"
DEMO_EXAMINER_PASSWORD="demo-examiner-pass"
DEMO_ROOM_NAME="第一考场 Room 1"

for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "demo.sh: $tool is required" >&2
    exit 1
  }
done

# call METHOD PATH [BODY] [CONTENT-TYPE]: the answer's body goes to $resp, its status to
# $status (0 when the gateway did not answer).
status=0
resp=""
call() {
  local method=$1 path=$2 body=${3:-} type=${4:-application/json} out
  local args=(-sS -X "$method" -w '\n%{http_code}' -H "Content-Type: $type")
  [[ -n "${token:-}" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$body" ]] && args+=(--data-binary "$body")
  out=$(curl "${args[@]}" "$url$path") || out=$'\n0'
  status=${out##*$'\n'}
  resp=${out%$'\n'*}
}
expect() { # expect WHAT CODE...: fails unless $status is one of CODE
  local what=$1 code
  shift
  for code in "$@"; do [[ "$status" == "$code" ]] && return 0; done
  echo "demo.sh: $what answered $status" >&2
  exit 1
}

token=""
call POST /v1/sessions '{"login":"operator","password":"operator-dev-pass"}'
expect "operator login" 200
token=$(jq -r .accessToken <<<"$resp")

# The school: create it, or find it by its code.
call POST /v1/admin/schools \
  "$(jq -cn --arg c "$DEMO_SCHOOL_CODE" --arg n "$DEMO_SCHOOL_NAME" '{code: $c, name: $n}')"
expect "create school" 201 409
call GET /v1/admin/schools
expect "list schools" 200
school=$(jq -r --arg c "$DEMO_SCHOOL_CODE" '.schools[] | select(.code == $c) | .schoolId' <<<"$resp")
[[ -n "$school" ]] || { echo "demo.sh: school $DEMO_SCHOOL_CODE not found" >&2; exit 1; }

# The exam: found by its title, created once.
call GET "/v1/admin/schools/$school/exams"
expect "list exams" 200
exam=$(jq -r --arg t "$DEMO_EXAM_TITLE" '[.exams[] | select(.title == $t)][0].examId // empty' \
  <<<"$resp")
if [[ -z "$exam" ]]; then
  now=$(date -u +%s)
  ts() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
  body=$(jq -cn --arg s "$school" --arg t "$DEMO_EXAM_TITLE" \
    --arg pay "$(ts $((now + 30 * 86400)))" --arg open "$(ts "$now")" \
    --arg close "$(ts $((now + 14 * 86400)))" \
    '{schoolId: $s, title: $t, feeCents: 10000, payDeadline: $pay, mode: "DUAL_CAMERA",
      screenShareAllowed: true, materialsOpenAt: $open, materialsCloseAt: $close,
      commitmentText: "考生诚信承诺书 / Commitment letter\n\n本人承诺：所提供的报考信息真实准确；面试期间独立作答，不录音、录像或传播试题，不借助他人或任何资料；遵守考场纪律。如有违反，愿承担一切后果。\nI confirm that my information is true, that I will answer alone, without help or material, and that I will not record or share the interview."}')
  call POST /v1/admin/exams "$body"
  expect "create exam" 201
  exam=$(jq -r .examId <<<"$resp")
fi

# The roster (a re-import updates the same lines).
roster="name,idType,idNumber,gender,major,direction
$DEMO_NAME,RESIDENT_ID,$DEMO_ID,男,计算机科学与技术,人工智能
李四,RESIDENT_ID,110105199003070017,女,计算机科学与技术,软件工程
王五,RESIDENT_ID,440305199512120032,男,电子信息,\"通信, 信号处理\"
Maria Lopez,PASSPORT,P9876543,女,Computer Science,Machine Learning
"
call POST "/v1/admin/exams/$exam/roster" "$roster" text/csv
expect "roster import" 200
if [[ "$(jq -r .rejectedCount <<<"$resp")" != 0 ]]; then
  echo "demo.sh: roster lines rejected: $resp" >&2
  exit 1
fi

# A school admin of the demo school.
call POST /v1/admin/staff "$(jq -cn --arg s "$school" --arg l "$DEMO_ADMIN_LOGIN" \
  --arg p "$DEMO_ADMIN_PASSWORD" \
  '{schoolId: $s, role: "SCHOOL_ADMIN", login: $l, password: $p, name: "Demo admin"}')"
expect "create school admin" 201 409

# What the exam asks candidates to hand in: a photo (required), a video (optional).
call GET "/v1/admin/exams/$exam/material-requirements"
expect "list material requirements" 200
if [[ "$(jq '.requirements | length' <<<"$resp")" == 0 ]]; then
  call POST "/v1/admin/exams/$exam/material-requirements" \
    '{"kind":"IMAGE","title":"证件照 ID photo","formats":["jpg","png"],"minCount":1,"maxCount":1,"maxBytes":5242880,"required":true}'
  expect "photo requirement" 201
  call POST "/v1/admin/exams/$exam/material-requirements" \
    '{"kind":"VIDEO","title":"自我介绍视频 Self-introduction","formats":["mp4","webm"],"minCount":0,"maxCount":1,"maxBytes":209715200,"required":false}'
  expect "video requirement" 201
fi

# An examiner of the demo school and a room of the exam with the demo candidate in it.
call POST /v1/admin/staff "$(jq -cn --arg s "$school" --arg l "$DEMO_EXAMINER_LOGIN" \
  --arg p "$DEMO_EXAMINER_PASSWORD" \
  '{schoolId: $s, role: "EXAMINER", login: $l, password: $p, name: "Demo examiner"}')"
expect "create examiner" 201 409
operator_token=$token
call POST /v1/sessions "$(jq -cn --arg l "$DEMO_EXAMINER_LOGIN" --arg p "$DEMO_EXAMINER_PASSWORD" \
  '{login: $l, password: $p}')"
expect "examiner login" 200
token=$(jq -r .accessToken <<<"$resp")
call GET /v1/me
expect "examiner account" 200
examiner=$(jq -r .accountId <<<"$resp")
call GET /v1/examiner/rooms
expect "examiner rooms" 200
room=$(jq -r --arg n "$DEMO_ROOM_NAME" '[.rooms[] | select(.name == $n)][0].roomId // empty' \
  <<<"$resp")
token=$operator_token
if [[ -z "$room" ]]; then
  now=$(date -u +%s)
  call POST "/v1/admin/exams/$exam/rooms" "$(jq -cn --arg n "$DEMO_ROOM_NAME" --arg e "$examiner" \
    --arg a "$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)" \
    --arg b "$(date -u -d "@$((now + 7 * 86400))" +%Y-%m-%dT%H:%M:%SZ)" \
    '{name: $n, startsAt: $a, endsAt: $b, examinerIds: [$e]}')"
  expect "create room" 201
  room=$(jq -r .roomId <<<"$resp")
fi
call POST "/v1/admin/rooms/$room/assignments" "{\"idNumber\":\"$DEMO_ID\",\"sequence\":1}"
expect "assign the demo candidate" 201 409

# The demo candidate, registered once through the dev SMS outbox.
token=""
call POST /v1/sessions "$(jq -cn --arg l "$DEMO_PHONE" --arg p "$DEMO_PASSWORD" \
  '{login: $l, password: $p}')"
if [[ "$status" != 200 ]]; then
  call POST /v1/sms-codes "{\"phone\":\"$DEMO_PHONE\",\"purpose\":\"REGISTER\"}"
  expect "SMS code" 202 429
  call GET "/v1/dev/sms-outbox?phone=$DEMO_PHONE"
  expect "SMS outbox" 200
  code=$(jq -r '.messages[0].code // empty' <<<"$resp")
  call POST /v1/accounts "$(jq -cn --arg ph "$DEMO_PHONE" --arg c "$code" \
    --arg p "$DEMO_PASSWORD" --arg n "$DEMO_NAME" --arg id "$DEMO_ID" \
    '{phone: $ph, smsCode: $c, password: $p, name: $n, idType: "RESIDENT_ID", idNumber: $id}')"
  expect "register the demo candidate" 201 409
fi

cat <<EOF2
    Demo school    $DEMO_SCHOOL_NAME (code $DEMO_SCHOOL_CODE), exam "$DEMO_EXAM_TITLE"
                   fee 100.00 yuan, materials window open for 14 days, dual camera
    Demo candidate login: $DEMO_PHONE (or $DEMO_ID)    password: $DEMO_PASSWORD
                   ($DEMO_NAME, on the exam's roster)
    School admin   login: $DEMO_ADMIN_LOGIN    password: $DEMO_ADMIN_PASSWORD
    Examiner       login: $DEMO_EXAMINER_LOGIN    password: $DEMO_EXAMINER_PASSWORD
                   ("$DEMO_ROOM_NAME", the demo candidate is number 1; materials: a
                   required photo, an optional video)
EOF2
