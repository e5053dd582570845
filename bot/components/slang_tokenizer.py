"""Whitespace tokenizer that normalises Indonesian chat slang.

"gmn sy udh bayar tp blm masuk" and "gimana saya sudah bayar tapi belum
masuk" should look alike to the featurizers. Replacing the message text
would break entity offsets, so only the *tokens* are rewritten: each keeps
its original start/end while its text and lemma become the standard form.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

# One place for the slang lexicon (lower case → standard Indonesian).
SLANG: Dict[str, str] = {
    "gmn": "gimana", "gmna": "gimana", "gmana": "gimana", "bgmn": "bagaimana", "gimna": "gimana",
    "sy": "saya", "sya": "saya", "aq": "saya", "aku": "saya", "gw": "saya", "gue": "saya", "gua": "saya", "ak": "saya",
    "udh": "sudah", "udah": "sudah", "sdh": "sudah", "dah": "sudah", "uda": "sudah", "sudh": "sudah",
    "blm": "belum", "blom": "belum", "blum": "belum", "belom": "belum",
    "brp": "berapa", "brapa": "berapa", "brpa": "berapa",
    "tdk": "tidak", "gak": "tidak", "ga": "tidak", "gk": "tidak", "nggak": "tidak", "ngga": "tidak",
    "enggak": "tidak", "engga": "tidak", "kagak": "tidak", "ndak": "tidak", "tak": "tidak",
    "bgt": "banget", "bngt": "banget", "bgtt": "banget",
    "yg": "yang", "dgn": "dengan", "dg": "dengan", "utk": "untuk", "untk": "untuk",
    "krn": "karena", "karna": "karena", "krna": "karena",
    "tp": "tapi", "tpi": "tapi", "jg": "juga", "aja": "saja", "aj": "saja", "sm": "sama", "dr": "dari",
    "kalo": "kalau", "klo": "kalau", "kl": "kalau", "bs": "bisa", "bsa": "bisa", "bisa2": "bisa",
    "knp": "kenapa", "knpa": "kenapa", "napa": "kenapa", "dmn": "dimana", "dmana": "dimana",
    "kpn": "kapan", "hrs": "harus", "lg": "lagi", "lgi": "lagi", "org": "orang", "trs": "terus", "trus": "terus",
    "nmr": "nomor", "nomer": "nomor", "tlg": "tolong", "tolongin": "tolong",
    "bln": "bulan", "thn": "tahun", "tgl": "tanggal", "jt": "juta", "rb": "ribu", "byr": "bayar",
    "mksh": "makasih", "makasi": "makasih", "thx": "thanks", "tq": "thanks", "trims": "makasih",
    "pinjmn": "pinjaman", "pinjeman": "pinjaman", "tagihn": "tagihan", "dc": "debtcollector",
    "gimn": "gimana", "sampe": "sampai", "smpe": "sampai", "skrg": "sekarang", "skrng": "sekarang",
    "sdgkn": "sedangkan", "bkn": "bukan", "emg": "memang", "emang": "memang", "dpt": "dapat", "dapet": "dapat",
    "lwt": "lewat", "pake": "pakai", "pk": "pakai", "gabisa": "tidak bisa", "gbs": "tidak bisa",
}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class SlangNormalizingTokenizer(WhitespaceTokenizer):
    """WhitespaceTokenizer whose tokens carry the standard spelling of slang."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Split on whitespace, then map slang tokens to their standard form."""
        tokens = super().tokenize(message, attribute)
        for token in tokens:
            standard = SLANG.get(token.text.lower())
            if standard:
                token.text = standard
                token.lemma = standard
        return tokens

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Same defaults as the WhitespaceTokenizer."""
        return WhitespaceTokenizer.get_default_config()
