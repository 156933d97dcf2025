# A fake deepracer-for-cloud: the dr-* functions record their calls (with the run.env values
# they saw) and start pitstop's simulated trainer in place of the Docker stack.
DR_DIR="${DR_DIR:-$(pwd)}"
set -a
# DRfC reads each line with 'eval export': so do we
while IFS= read -r line; do case "$line" in ''|'#'*) ;; *) eval export "$line" ;; esac; done < "$DR_DIR/system.env"
while IFS= read -r line; do case "$line" in ''|'#'*) ;; *) eval export "$line" ;; esac; done < "$DR_DIR/run.env"
set +a
_record() { echo "$* model=$DR_LOCAL_S3_MODEL_PREFIX pretrained=$DR_LOCAL_S3_PRETRAINED:$DR_LOCAL_S3_PRETRAINED_PREFIX:$DR_LOCAL_S3_PRETRAINED_CHECKPOINT world=$DR_WORLD_NAME" >> "$DR_DIR/calls.log"; }
dr-upload-custom-files() { _record dr-upload-custom-files; ls "$DR_DIR/custom_files" > "$DR_DIR/custom_files.seen"; }
dr-start-training() {
  _record dr-start-training "$@"
  for a in "$@"; do [ "$a" = "-w" ] && { echo "refusing to test -w" >&2; return 9; }; done
  PITSTOP_MODEL_PREFIX="$DR_LOCAL_S3_MODEL_PREFIX" \
  PITSTOP_PRETRAINED_PREFIX="$DR_LOCAL_S3_PRETRAINED_PREFIX" \
  PITSTOP_PRETRAINED_CHECKPOINT="$DR_LOCAL_S3_PRETRAINED_CHECKPOINT" \
  PITSTOP_BUCKET="$DR_LOCAL_S3_BUCKET" \
  setsid "$PYTHON" -m pitstop.trainers.simulated_run >> "$DR_DIR/stack.log" 2>&1 < /dev/null &
  echo $! > "$DR_DIR/stack.pid"
}
dr-stop-training() {
  _record dr-stop-training
  if [ -f "$DR_DIR/stack.pid" ]; then kill -TERM "$(cat "$DR_DIR/stack.pid")" 2>/dev/null || true; fi
}
