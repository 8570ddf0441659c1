import logging

# bitsandbytes warns when imported on a CPU with AVX512-BF16 that an optional 4-bit CPU kernel from the Hugging Face
# hub is missing. Here 4-bit (QLoRA) runs only on CUDA, so that warning, printed by every training, serving and
# report process that imports peft or transformers, is noise; its errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
