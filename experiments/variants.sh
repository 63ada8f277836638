# The `input` variants of the issue-23 grids, sourced by experiments/transfer.sh and experiments/nrc_full.sh: each
# short name's `reproduce` options and its run folder (variant key). The NRC Emotion Lexicon uses all 10 columns and
# no OOV regressor (nrclex lists only words with an association); it needs `pip install "sensoryt5[nrc]"`.
declare -A options=([none]="--sensory none" [norms]="--sensory norms" [random]="--sensory random"
                    [nrc]="--sensory norms --lexicon nrc-emolex --oov none")
declare -A key=([none]=none [norms]=input-norms [random]=input-random [nrc]=input-norms-nrc-emolex)
