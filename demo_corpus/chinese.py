"""Generate the Chinese demo corpus of spacy_mtl (smart speaker, travel and home commands).

Everything here -- templates, singer and song names, cities, devices, events -- was
written by hand for this project; no sentence comes from CAIS, SMP-ECDT or any other
data set. Singer names are made up from common surnames and given names; song
titles are made up too. Licence: CC0-1.0.

Run from the repository root:  python -m demo_corpus chinese data/demo_zh
It rewrites, deterministically (fixed seed), in the folder given:

    train_intents.tsv          intents only   TEXT<TAB>INTENT per line
    train_slots.txt            slots only     one "CHAR TAG" line per character (BIOES),
                                              a blank line between sentences
    dev/slots.txt, dev/intents.txt    joint   the same columns, and one intent per sentence
    test/slots.txt, test/intents.txt  joint
    README.md

and then validates what it wrote (``--check`` validates only). Convert with
``python -m spacy_mtl convert columns`` / ``intents`` (see README.md).

Template syntax
    (a|b|)      pick one alternative at random (an empty one drops the group)
    {label}     an entity of type ``label`` from the pool of the same name
"""

import random
import re
from collections import Counter
from pathlib import Path

SEED = 20261125
N_TRAIN_INTENTS = 30  # per intent
N_TRAIN_SLOTS = 30
N_DEV = 8
N_TEST = 8
# Every HELD_OUT-th value of an open pool is kept out of both training files.
HELD_OUT = 5


def pool(text):
    return [item.strip() for item in text.split("|") if item.strip()]


SURNAMES = list(
    "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = pool(
    "小雨|子涵|嘉怡|浩然|一凡|思远|雨婷|晓峰|梓萱|明轩|佳琪|志强|欣怡|俊杰|诗涵|天宇|若曦|"
    "文博|静怡|宇航|雪莹|家豪|紫琳|海洋|晨曦|可馨|振宇|梦瑶|伟|芳|敏|静|磊|婷|勇|娜"
)
# Song titles: made up; some English, whose spaces lie inside the entity.
SONGS = pool(
    "夏日微风|城市的夜|远方的灯|星空下的约定|晚风|回家的路|雨后彩虹|青春纪念册|海边的信|"
    "月光小镇|慢慢走|追光的人|旧时光|白色气球|第一场雪|风吹麦浪|纸飞机|蓝色的梦|"
    "南方的冬天|时间的河|一路向前|午后阳光|Blue Sky|Hello Summer|Morning Light|"
    "Paper Moon|Sunny Day|Silver Rain|Home Again|Little Star"
)
CITIES = pool(
    "北京|上海|广州|深圳|杭州|南京|成都|重庆|武汉|西安|天津|苏州|长沙|郑州|青岛|厦门|"
    "昆明|大连|沈阳|哈尔滨|济南|合肥|福州|南宁|贵阳|兰州|海口|三亚|拉萨|乌鲁木齐|"
    "桂林|丽江|洛阳|无锡|宁波|温州|珠海|烟台|太原|石家庄"
)
DEVICES = pool(
    "灯|台灯|吊灯|空调|电视|窗帘|风扇|加湿器|空气净化器|热水器|扫地机器人|洗衣机|"
    "电饭煲|音箱|投影仪|暖气|排气扇|落地灯|电暖器|除湿机"
)
ROOMS = pool("客厅|卧室|主卧|次卧|厨房|书房|卫生间|餐厅|阳台|儿童房|玄关|车库")
EVENTS = pool(
    "开会|交房租|给妈妈打电话|取快递|吃药|接孩子|去健身|还书|买牛奶|交电费|"
    "写周报|浇花|喂猫|倒垃圾|看牙医|订蛋糕|去银行|洗车|参加婚礼|复习英语"
)
DATES = pool(
    "今天|明天|后天|大后天|周一|周二|周三|周四|周五|周六|周日|下周一|下周三|"
    "下周五|这个周末|下个周末|三月五号|五月一日|六月十八号|十月一号|十二月二十四号|月底|下个月"
)
TIMES = pool(
    "早上七点|早上六点半|七点一刻|八点|九点整|中午十二点|下午两点|下午三点半|傍晚六点|"
    "晚上八点|晚上九点十五|十点|凌晨五点|晚上十一点|上午十点半"
)
DURATIONS = pool("一晚|两晚|三晚|四个晚上|一周|两天|三天|五天")
TEMPERATURES = pool("二十度|二十二度|二十四度|二十六度|十八度|二十五度|27度|23度|30度|十六度")
VOLUMES = pool("十|二十|三十|五十|六十|八十|一百|百分之四十|最大|一半|最小")

OPEN_POOLS = {"singer", "song", "city", "from_city", "to_city", "event"}

TEMPLATES = {
    "play_music": [
        "(我想听|我要听|播放|放一首|来一首|给我放)(一下|){singer}的(歌|歌曲|新歌)",
        "(播放|放|来一首|我想听)({singer}的|){song}",
        "(我想听|放一下|播放)(歌曲|){song}(这首歌|吧|)",
        "(随便|)(放|来)点{singer}的(歌|音乐)(吧|)",
        "(帮我|)(播放|放)一首{singer}唱的{song}",
        "(能不能|可以)(放|播放){song}(吗|)",
        "(想听|听听){singer}(的|)(老歌|新专辑|现场版)",
    ],
    "weather": [
        "{city}{date}(天气怎么样|的天气|会下雨吗|冷不冷|热吗)",
        "{date}{city}(会下雪吗|天气如何|要带伞吗|气温多少)",
        "(查一下|看看|告诉我){city}(的天气|天气)",
        "{date}(天气怎么样|会下雨吗|要穿外套吗)",
        "(帮我|)查(一下|)({date}|){city}的(空气质量|温度|天气预报)",
        "(外面|现在)(天气怎么样|冷吗|下雨了吗)",
    ],
    "set_alarm": [
        "(帮我|)(定|设|设置)(一个|个|){date}{time}的闹钟",
        "{date}{time}叫我(起床|)",
        "(设置|定)(一个|个|){time}的闹钟",
        "{time}(提醒我起床|叫醒我|把我叫醒)",
        "(把|)闹钟(改到|调到|定在){date}{time}",
        "(明天|)(早点|)叫我起床",
    ],
    "book_flight": [
        "(帮我|我想|我要)(订|买|预订)(一张|)({date}|){from_city}(到|飞|去){to_city}的机票",
        "(订|买)(一张|)(去|飞){to_city}的机票",
        "{date}(从|){from_city}飞{to_city}的航班(有哪些|还有票吗|多少钱)",
        "(我要|想)(坐飞机|飞)去{to_city}",
        "(查一下|看看){from_city}到{to_city}(的|)(机票|航班)",
        "(订|预订){date}{time}(飞|去){to_city}的(航班|机票)",
    ],
    "book_train": [
        "(帮我|我想|)(订|买)(一张|)({date}|){from_city}到{to_city}的(火车票|高铁票|动车票)",
        "(查一下|看看){date}(去|到){to_city}的(高铁|火车|动车)",
        "{date}{time}(从|){from_city}(出发|)去{to_city}的(高铁|动车)(还有票吗|有吗)",
        "(我要|想)坐(高铁|火车)(去|回){to_city}",
        "(订|买)(两张|一张|)(高铁票|火车票)(去|到){to_city}",
    ],
    "book_hotel": [
        "(帮我|我想|)(订|预订)(一间|个|){city}的(酒店|宾馆|民宿)(住|){duration}",
        "{date}(在|去){city}(订|找)(一家|个|)(酒店|宾馆)",
        "(订|预订){city}(市中心|火车站附近|机场附近|)的(酒店|房间)",
        "(我要|想)在{city}住{duration}",
        "(帮我|)找(一家|)(便宜的|安静的|)(酒店|民宿)(住|){duration}",
        "{date}(入住|住){city}(的|)(酒店|宾馆){duration}",
    ],
    "device_control": [
        "(打开|关掉|关闭|开一下|关一下)({room}的|){device}",
        "(把|帮我把){room}(的|){device}(打开|关掉|关上|开开)",
        "{room}(的|){device}(开一下|关一下|打开|关了)",
        "(把|){device}(打开|关掉|关了)",
        "(请|)(启动|停止){device}",
    ],
    "set_temperature": [
        "(把|帮我把)({room}的|)(空调|暖气)(调到|设成|开到){temperature}",
        "{room}(温度|)(调到|设到){temperature}",
        "(空调|暖气)(温度|)(调到|设置为){temperature}",
        "(太热了|太冷了)(把|)({room}|)温度(调到|改成){temperature}",
        "(把|){room}的温度(调高一点|调低一点|升高|降低)",
    ],
    "add_reminder": [
        "(提醒我|记得提醒我){date}{time}{event}",
        "{date}(提醒我|叫我){event}",
        "(帮我|)(添加|设|建)(一个|个|)提醒{date}{event}",
        "{time}(提醒我|记得){event}",
        "(别让我忘了|记得提醒我){event}",
        "(创建|新建)(一个|)提醒(：|){event}",
    ],
    "volume": [
        "(把|)(音量|声音)(调到|设成|开到){volume}",
        "(音量|声音)(调|开)到{volume}",
        "(声音|音量)(大一点|小一点|调大|调小)",
        "(太吵了|太小声了)(把|)(音量|声音)(调到|调成){volume}",
        "(请|)(把|)音箱(音量|声音)(调到|设为){volume}",
    ],
}

ALT = re.compile(r"\(([^()]*)\)")
SLOT = re.compile(r"\{(\w+)\}")
POOLS = {
    "singer": None,  # made up below from surnames and given names
    "song": SONGS,
    "city": CITIES,
    "from_city": CITIES,
    "to_city": CITIES,
    "date": DATES,
    "time": TIMES,
    "duration": DURATIONS,
    "room": ROOMS,
    "device": DEVICES,
    "temperature": TEMPERATURES,
    "event": EVENTS,
    "volume": VOLUMES,
}
ENTITY_DESCRIPTIONS = {
    "singer": "singer (made-up names)",
    "song": "song title (made up; some English, with spaces inside)",
    "city": "city of a weather question or a hotel",
    "from_city": "departure city of a flight or train",
    "to_city": "destination city",
    "date": "day or date (今天, 下周五, 十月一号)",
    "time": "clock time (早上七点, 下午三点半)",
    "duration": "length of a stay (两晚, 一周)",
    "room": "room of the home",
    "device": "home device",
    "temperature": "temperature setting (二十六度, 23度)",
    "event": "what a reminder is for",
    "volume": "volume level (五十, 最大)",
}
INTENT_DESCRIPTIONS = {
    "play_music": "play a singer, a song or some music",
    "weather": "weather and forecast",
    "set_alarm": "set or move an alarm",
    "book_flight": "book or look for a flight",
    "book_train": "book or look for a train ticket",
    "book_hotel": "book a hotel",
    "device_control": "switch home devices on or off",
    "set_temperature": "air conditioning and heating",
    "add_reminder": "create a reminder",
    "volume": "loudness of the speaker",
}


def make_pools(rng):
    """(training pools, evaluation pools): training lacks every HELD_OUT-th open value."""
    singers = sorted({s + g for s in SURNAMES for g in GIVEN})
    rng.shuffle(singers)
    pools = dict(POOLS, singer=singers[:60])
    train, evaluate = {}, {}
    for label, values in pools.items():
        evaluate[label] = list(values)
        if label in OPEN_POOLS:
            train[label] = [v for i, v in enumerate(values) if i % HELD_OUT != HELD_OUT - 1]
        else:
            train[label] = list(values)
    return train, evaluate


def expand(template, rng):
    while True:
        match = ALT.search(template)
        if not match:
            return template
        choice = rng.choice(match.group(1).split("|"))
        template = template[: match.start()] + choice + template[match.end() :]


def fill(template, pools, rng):
    """One realisation of a template: a list of (text, label or None) chunks."""
    expanded = expand(template, rng)
    chunks, pos, used = [], 0, {}
    for match in SLOT.finditer(expanded):
        if match.start() > pos:
            chunks.append((expanded[pos : match.start()], None))
        label = match.group(1)
        value = rng.choice(pools[label])
        # from and to are never the same city
        while label == "to_city" and value == used.get("from_city"):
            value = rng.choice(pools[label])
        used[label] = value
        chunks.append((value, label))
        pos = match.end()
    if pos < len(expanded):
        chunks.append((expanded[pos:], None))
    return chunks


def sample(intent, n, pools, rng, seen):
    out, order, attempts = [], [], 0
    while len(out) < n:
        attempts += 1
        if attempts > 20000:
            raise RuntimeError(f"cannot find {n} distinct sentences for {intent}")
        if not order:
            order = TEMPLATES[intent][:]
            rng.shuffle(order)
        chunks = fill(order.pop(), pools, rng)
        text = "".join(text for text, _ in chunks)
        if text in seen:
            continue
        seen.add(text)
        out.append((chunks, intent))
    return out


def generate():
    rng = random.Random(SEED)
    train_pools, eval_pools = make_pools(rng)
    seen = set()
    splits = {}
    # Test and dev first, so that no training sentence repeats one of them.
    for name, n, pools in [
        ("test", N_TEST, eval_pools),
        ("dev", N_DEV, eval_pools),
        ("train_intents", N_TRAIN_INTENTS, train_pools),
        ("train_slots", N_TRAIN_SLOTS, train_pools),
    ]:
        rows = []
        for intent in TEMPLATES:
            rows += sample(intent, n, pools, rng, seen)
        rng.shuffle(rows)
        splits[name] = rows
    return splits


def bioes(n, label):
    if n == 1:
        return [f"S-{label}"]
    return [f"B-{label}"] + [f"I-{label}"] * (n - 2) + [f"E-{label}"]


def columns(chunks):
    """The "CHAR TAG" lines of one sentence (a space is written "  TAG")."""
    lines = []
    for text, label in chunks:
        tags = bioes(len(text), label) if label else ["O"] * len(text)
        lines += [f"{char} {tag}" for char, tag in zip(text, tags)]
    return "\n".join(lines) + "\n"


def write(splits, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train_intents.tsv", "w", encoding="utf8") as f:
        for chunks, intent in splits["train_intents"]:
            f.write("".join(text for text, _ in chunks) + "\t" + intent + "\n")
    with open(out / "train_slots.txt", "w", encoding="utf8") as f:
        f.write("\n".join(columns(chunks) for chunks, _ in splits["train_slots"]))
    for name in ("dev", "test"):
        folder = out / name
        folder.mkdir(exist_ok=True)
        rows = splits[name]
        with open(folder / "slots.txt", "w", encoding="utf8") as f:
            f.write("\n".join(columns(chunks) for chunks, _ in rows))
        with open(folder / "intents.txt", "w", encoding="utf8") as f:
            f.write("".join(intent + "\n" for _, intent in rows))


def read_columns_file(path):
    """[(text, [(entity text, label)])] read back from a slots file."""
    sentences, chars, tags = [], [], []
    for raw in list(path.read_text("utf8").split("\n")) + [""]:
        if not raw:
            if chars:
                sentences.append(decode(chars, tags))
            chars, tags = [], []
            continue
        tag = raw.rsplit(" ", 1)[1]
        chars.append(raw[: -len(tag) - 1] or " ")
        tags.append(tag)
    return sentences


def decode(chars, tags):
    ents, start = [], None
    for i, tag in enumerate(tags):
        prefix, _, label = tag.partition("-")
        if prefix in ("B", "S"):
            start = i
        if prefix in ("E", "S"):
            ents.append(("".join(chars[start : i + 1]), label))
    return "".join(chars), ents


def read_all(folder: Path):
    data = {}
    data["train_intents"] = [
        (text, [], intent)
        for text, intent in (
            line.split("\t")
            for line in (folder / "train_intents.tsv").read_text("utf8").split("\n")
            if line
        )
    ]
    data["train_slots"] = [(t, e, None) for t, e in read_columns_file(folder / "train_slots.txt")]
    for name in ("dev", "test"):
        sentences = read_columns_file(folder / name / "slots.txt")
        intents = (folder / name / "intents.txt").read_text("utf8").split()
        assert len(sentences) == len(intents), name
        data[name] = [(t, e, i) for (t, e), i in zip(sentences, intents)]
    return data


def validate(data):
    problems = []
    texts = Counter(text for rows in data.values() for text, _, _ in rows)
    problems += [f"duplicate sentence {t!r}" for t, c in texts.items() if c > 1]
    intents = Counter(i for _, _, i in data["train_intents"])
    if not 8 <= len(intents) <= 12:
        problems.append(f"{len(intents)} intents, expected 8 to 12")
    labels = Counter(label for _, ents, _ in data["train_slots"] for _, label in ents)
    if len(labels) < 10:
        problems.append(f"{len(labels)} slot types, expected at least 10")
    for name in ("dev", "test"):
        if {i for _, _, i in data[name]} != set(intents):
            problems.append(f"{name} does not cover every intent")
    if unseen_share(data) < 0.15:
        problems.append("too few held-out entity values in dev and test")
    if not any(" " in text for text, _ in entity_mentions(data, "train_slots")):
        problems.append("no entity with a space inside")
    for problem in problems:
        print("PROBLEM:", problem)
    return problems


def entity_mentions(data, name):
    return [ent for _, ents, _ in data[name] for ent in ents]


def unseen_share(data):
    seen = set(entity_mentions(data, "train_slots"))
    evaluated = entity_mentions(data, "dev") + entity_mentions(data, "test")
    return sum(ent not in seen for ent in evaluated) / max(len(evaluated), 1)


def write_readme(data, out: Path):
    intents = sorted(INTENT_DESCRIPTIONS)
    counts = {name: Counter(i for _, _, i in rows) for name, rows in data.items()}
    mentions = {name: Counter(label for _, label in entity_mentions(data, name)) for name in data}
    lines = [
        "# Chinese demo corpus: smart speaker, travel and home commands",
        "",
        "A small, offline corpus for the spacy_mtl Chinese workflow (`spacy project run zh`).",
        "One training file is annotated with intents only, another (different sentences) with",
        "slots only; dev and test are annotated jointly.",
        "",
        "## Provenance and licence",
        "",
        "Written by the spacy_mtl developers: the templates, made-up singer names and song",
        "titles, and the other slot values are in `demo_corpus/chinese.py`, which rewrites these",
        "files deterministically (`python -m demo_corpus chinese data/demo_zh`). No sentence comes",
        "from CAIS, SMP-ECDT or any other data set. Licence: CC0-1.0. City names are real.",
        "",
        f"Every {HELD_OUT}th singer, song, city and reminder event is held out of both training",
        "files, so dev and test hold names never seen in training: of their entity mentions,",
        f"{unseen_share(data):.0%} never occur with that type in `train_slots.txt`.",
        "",
        "## Files and formats",
        "",
        "| file | annotation | sentences |",
        "|---|---|---:|",
        f"| `train_intents.tsv` | intents only: `TEXT<TAB>INTENT` | {len(data['train_intents'])} |",
        f"| `train_slots.txt` | slots only: `CHAR TAG` columns | {len(data['train_slots'])} |",
        f"| `dev/slots.txt`, `dev/intents.txt` | both | {len(data['dev'])} |",
        f"| `test/slots.txt`, `test/intents.txt` | both | {len(data['test'])} |",
        "",
        "Slot files hold one character and its BIOES tag per line and a blank line after",
        "each sentence; a space inside an English song title is the line `  I-song`.",
        "`intents.txt` holds one intent per sentence of `slots.txt`. Convert them with",
        "",
        "```bash",
        "python -m spacy_mtl convert intents data/demo_zh/train_intents.tsv cats.spacy --lang zh",
        "python -m spacy_mtl convert columns data/demo_zh/train_slots.txt ents.spacy --lang zh",
        "python -m spacy_mtl convert columns data/demo_zh/dev/slots.txt dev.spacy --lang zh \\",
        "    --intents data/demo_zh/dev/intents.txt",
        "```",
        "",
        "## Intents",
        "",
        "| intent | meaning | train_intents | dev | test |",
        "|---|---|---:|---:|---:|",
    ]
    for intent in intents:
        row = [counts[n][intent] for n in ("train_intents", "dev", "test")]
        lines.append(
            f"| `{intent}` | {INTENT_DESCRIPTIONS[intent]} | " + " | ".join(map(str, row)) + " |"
        )
    lines += [
        "",
        "## Slot types",
        "",
        "Mentions per file.",
        "",
        "| type | meaning | train_slots | dev | test |",
        "|---|---|---:|---:|---:|",
    ]
    for label in ENTITY_DESCRIPTIONS:
        row = [mentions[n][label] for n in ("train_slots", "dev", "test")]
        desc = ENTITY_DESCRIPTIONS[label]
        lines.append(f"| `{label}` | {desc} | " + " | ".join(map(str, row)) + " |")
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf8")


def make(out: Path, check_only: bool = False) -> int:
    """Write the corpus and its README to out (unless check_only), then validate what is there.

    out (Path): The corpus folder, e.g. data/demo_zh.
    check_only (bool): Validate the files in out without writing them.
    RETURNS (int): The exit status: 1 if validation found problems.
    """
    if not check_only:
        write(generate(), out)
        write_readme(read_all(out), out)
    return 1 if validate(read_all(out)) else 0
