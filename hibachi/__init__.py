import logging
import warnings

# bitsandbytes warns when imported on a CPU with AVX512-BF16 that an optional 4-bit CPU kernel from the Hugging Face
# hub is missing. Here 4-bit (QLoRA) runs only on CUDA, so that warning, printed by every training, serving and
# report process that imports peft or transformers, is noise; its errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

# peft (wrapping a model in PeftModel, and preparing a 4-bit base for QLoRA) and trl still use transformers 5's
# deprecated gradient-checkpointing names, so every training, evaluation and serving process printed a FutureWarning
# the project cannot act on (its own code passes the new name, `activation_checkpointing`). Other FutureWarnings
# still show.
for _old_name in ("is_gradient_checkpointing", "gradient_checkpointing_enable"):
    warnings.filterwarnings("ignore", message=f"`{_old_name}` is deprecated", category=FutureWarning)
del _old_name
