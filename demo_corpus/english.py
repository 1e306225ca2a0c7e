"""Generate the spacy_mtl demo corpus (travel and smart-home voice assistant).

Everything here -- templates, slot fillers, task phrases -- was written by hand
for this project; no sentence comes from ATIS, SNIPS or any other data set.
Licence: CC0-1.0.

Run from the repository root:  python -m demo_corpus english data/demo
It rewrites, deterministically (fixed seed), in the folder given:

    train_intents.jsonl   intents only   {"text", "tokens", "label"} per line
    train_slots.iob       slots only     token<TAB>IOB2 tag, blank line between sentences
    dev/{seq.in,seq.out,label}   joint
    test/{seq.in,seq.out,label}  joint
    README.md

and then validates what it wrote (``--check`` validates only).

Template syntax
    (a|b|)        pick one alternative at random (an empty one drops the group)
    {label}       an entity of type ``label`` from the pool of the same name
    {label:pool}  an entity of type ``label`` from the pool ``pool``
    {date:np}     a date without its preposition ("friday" instead of "on friday")
    {~pool}       plain words (tag O) from ``pool``
"""

# json, not srsly: the committed train_intents.jsonl has json.dumps's spacing, byte for byte.
import json
import random
import re
from collections import Counter
from pathlib import Path

SEED = 20240611

# Per intent: sentences in each file.
N_TRAIN_INTENTS = 30
N_TRAIN_SLOTS = {  # play_music gets more, so that songs and artists are not rare
    "book_flight": 30,
    "flight_status": 30,
    "hotel_booking": 28,
    "weather": 28,
    "set_alarm": 28,
    "play_music": 40,
    "device_control": 30,
    "thermostat": 28,
    "add_reminder": 28,
    "cancel": 30,
}
N_DEV = 30
N_TEST = 30

# ---------------------------------------------------------------------------
# Slot fillers (hand-written). For the open-class pools every fifth item is
# held out of both training files, so dev and test contain names the model
# never saw in training.
# ---------------------------------------------------------------------------

CITIES = """
new york | los angeles | san francisco | chicago | boston | seattle | denver
| miami | atlanta | dallas | houston | phoenix | las vegas | new orleans
| portland | austin | nashville | toronto | montreal | vancouver
| mexico city | london | paris | berlin | madrid | barcelona | lisbon | rome
| milan | vienna | prague | amsterdam | brussels | dublin | edinburgh
| copenhagen | stockholm | oslo | helsinki | warsaw | budapest | athens
| istanbul | cairo | nairobi | cape town | lagos | dubai | mumbai | delhi
| bangkok | singapore | hong kong | tokyo | osaka | seoul | beijing
| shanghai | sydney | melbourne | auckland | buenos aires | sao paulo
| rio de janeiro | lima | bogota | santiago | reykjavik | zurich | geneva
| munich | hamburg | frankfurt | krakow | porto | seville | naples | venice
| florence | marrakesh | tel aviv | kuala lumpur | manila | hanoi
| salt lake city | kansas city | saint louis | minneapolis | philadelphia
| san diego | honolulu | anchorage | calgary | glasgow | manchester
| lyon | marseille | nice | valencia | bologna | salzburg | tallinn | riga
"""

AIRLINES = """
united | delta | american airlines | lufthansa | air france | british airways
| klm | emirates | qantas | ryanair | easyjet | southwest | jetblue
| alaska airlines | air canada | iberia | turkish airlines | singapore airlines
| swiss | aer lingus | norwegian | finnair | tap portugal | virgin atlantic
| cathay pacific | japan airlines | qatar airways | etihad | spirit | frontier
| hawaiian airlines | ita airways | austrian airlines | wizz air | vueling
| korean air | air new zealand | copa airlines | icelandair | sas
"""

# "song / artist" pairs, so that "<song> by <artist>" is always true.
MUSIC = """
bohemian rhapsody / queen | we will rock you / queen | hey jude / the beatles
| let it be / the beatles | here comes the sun / the beatles
| yesterday / the beatles | imagine / john lennon | purple rain / prince
| superstition / stevie wonder | isn't she lovely / stevie wonder
| respect / aretha franklin | jolene / dolly parton | nine to five / dolly parton
| wonderwall / oasis | take five / dave brubeck | so what / miles davis
| blue in green / miles davis | fly me to the moon / frank sinatra
| dancing queen / abba | waterloo / abba | heroes / david bowie
| space oddity / david bowie | creep / radiohead | karma police / radiohead
| dreams / fleetwood mac | landslide / fleetwood mac
| rolling in the deep / adele | hello / adele | shake it off / taylor swift
| cruel summer / taylor swift | bad guy / billie eilish
| ocean eyes / billie eilish | shape of you / ed sheeran
| thinking out loud / ed sheeran | halo / beyonce | redemption song / bob marley
| three little birds / bob marley | no woman no cry / bob marley
| get lucky / daft punk | one more time / daft punk
| billie jean / michael jackson | smells like teen spirit / nirvana
| hotel california / the eagles | feeling good / nina simone
| at last / etta james | ring of fire / johnny cash | africa / toto
| blinding lights / the weeknd | levitating / dua lipa
| drivers license / olivia rodrigo | as it was / harry styles
| good vibrations / the beach boys | stand by me / ben e king
| riptide / vance joy | september / earth wind and fire
| summertime / ella fitzgerald | harvest moon / neil young
| a case of you / joni mitchell | river / joni mitchell
| running up that hill / kate bush | sweet caroline / neil diamond
| mr blue sky / electric light orchestra | hallelujah / leonard cohen
| take me to church / hozier | cherry wine / hozier
| dog days are over / florence and the machine | teardrop / massive attack
| glory box / portishead | the model / kraftwerk
| once in a lifetime / talking heads | just like heaven / the cure
| friday i'm in love / the cure | hips don't lie / shakira
| malamente / rosalia | water no get enemy / fela kuti
| nuvole bianche / ludovico einaudi | my funny valentine / chet baker
| about damn time / lizzo | uptown funk / bruno mars
| do i wanna know / arctic monkeys | humble / kendrick lamar
| don't know why / norah jones | yellow / coldplay | fix you / coldplay
| wish you were here / pink floyd | paint it black / the rolling stones
| the less i know the better / tame impala | last nite / the strokes
| graceland / paul simon | waltz for debby / bill evans
| cantaloupe island / herbie hancock | giant steps / john coltrane
| video games / lana del rey | tiny dancer / elton john
| rocket man / elton john | hyperballad / bjork | smooth operator / sade
| thinkin bout you / frank ocean
"""

DEVICES_LIGHT = """
lights | light | ceiling light | desk lamp | floor lamp | lamp | wall light
| night light | fairy lights | string lights | reading lamp | spotlights
| bedside lamp | led strip
"""

DEVICES_OTHER = """
tv | television | fan | ceiling fan | air purifier | coffee maker | heater
| space heater | air conditioner | humidifier | dehumidifier | projector
| electric blanket | towel warmer | printer | sound system | radiator
| kettle | extractor fan | heated floor
"""

DEVICES_LIGHTS_PLURAL = """
lights | lamps | ceiling lights | fairy lights | string lights | spotlights
| wall lights | downlights
"""

DEVICES_OPEN = "blinds | curtains | shades | skylight | roller blinds | window"

DEVICES_APPLIANCE = """
dishwasher | washing machine | robot vacuum | coffee maker | dryer | kettle
| rice cooker | slow cooker | oven
"""

DEVICES_AUDIO = "speaker | sound bar | radio | tv | smart speaker | record player"

ROOMS = """
kitchen | living room | bedroom | master bedroom | bathroom | office
| home office | hallway | garage | dining room | nursery | kids room
| guest room | basement | attic | study | laundry room | lounge | spare room | den | playroom | sunroom | loft
"""

TASKS = """
call mom | buy milk | pick up the dry cleaning | water the plants
| take my medication | pay the electricity bill | book a dentist appointment
| check in for my flight | email the landlord | feed the cat
| take out the recycling | renew my passport | pack the phone charger
| call the hotel about late checkout | submit the expense report
| pick up the kids from school | defrost the chicken
| send grandma a birthday card | move the car | return the library books
| charge the camera batteries | print the boarding passes
| cancel the gym membership | walk the dog | order more coffee beans
| book a taxi to the airport | change the bed sheets | call the plumber
| buy a present for ana | stretch | drink some water | lock the back door
| confirm the restaurant booking | text jamal back | back up my laptop
| exchange some money for the trip | bring the umbrella inside
"""

EVENTS = """
dentist appointment | team meeting | parent teacher conference | yoga class
| dinner with sam | doctor's appointment | haircut | job interview
| car service | piano lesson | book club | video call with my sister
| football practice | vet appointment | flight check in
"""

FLIGHT_NUMBERS = """
two one seven | four five two | 1180 | 36 | nine hundred | three forty
| 612 | eight eight one | 2045 | seventy seven | five oh nine | 1409
"""

# Hand-written building blocks for times, dates, temperatures and durations.
HOURS = "one two three four five six seven eight nine ten eleven twelve".split()
MINUTES = ["fifteen", "thirty", "forty five", "oh five", "twenty", "ten", "fifty"]
MONTHS = (
    "january february march april may june july august september october november december"
).split()
ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty first",
    "twenty second",
    "twenty third",
    "twenty fourth",
    "twenty fifth",
    "twenty sixth",
    "twenty seventh",
    "twenty eighth",
    "thirtieth",
]
DIGIT_ORDINALS = [
    "1st",
    "2nd",
    "3rd",
    "4th",
    "9th",
    "11th",
    "14th",
    "17th",
    "18th",
    "21st",
    "22nd",
    "23rd",
    "28th",
]
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
NUMBER_WORDS = {
    16: "sixteen",
    17: "seventeen",
    18: "eighteen",
    19: "nineteen",
    20: "twenty",
    21: "twenty one",
    22: "twenty two",
    23: "twenty three",
    24: "twenty four",
    25: "twenty five",
    30: "thirty",
    32: "thirty two",
    35: "thirty five",
    60: "sixty",
    62: "sixty two",
    64: "sixty four",
    65: "sixty five",
    66: "sixty six",
    68: "sixty eight",
    69: "sixty nine",
    70: "seventy",
    71: "seventy one",
    72: "seventy two",
    74: "seventy four",
    75: "seventy five",
    80: "eighty",
    85: "eighty five",
    90: "ninety",
    0: "zero",
    5: "five",
    10: "ten",
    12: "twelve",
    15: "fifteen",
}


def split_pool(text):
    return [" ".join(item.split()) for item in text.split("|") if item.strip()]


def make_times(rng):
    """(preposition, entity text) pairs for clock times."""
    out = []
    for h in HOURS:
        out.append(("at", f"{h} am"))
        out.append(("at", f"{h} pm"))
        out.append(("at", f"{h} o'clock"))
        out.append(("at", f"half past {h}"))
        out.append(("at", f"{h} {rng.choice(MINUTES)}"))
        out.append(("at", f"{h} {rng.choice(MINUTES)} {rng.choice(['am', 'pm'])}"))
    for h in range(1, 13):
        out.append(("at", f"{h} {rng.choice(['am', 'pm'])}"))
        out.append(("at", f"{h} {rng.choice(['15', '30', '45', '05', '20', '40'])}"))
    out += [
        ("at", t)
        for t in [
            "noon",
            "midnight",
            "a quarter to nine",
            "quarter past seven",
            "a quarter past six",
            "quarter to five",
            "six in the morning",
            "seven in the evening",
            "ten at night",
            "five in the afternoon",
            "eight thirty in the morning",
            "six thirty am",
            "eleven fifteen pm",
            "7 30 am",
            "14 00",
            "18 45",
            "midday",
        ]
    ]
    return out


def make_wake_times():
    """Morning clock times, for getting up."""
    out = []
    for h in ["five", "six", "seven", "eight", "nine"]:
        out += [
            ("at", f"{h} am"),
            ("at", f"{h} thirty"),
            ("at", f"half past {h}"),
            ("at", f"{h} in the morning"),
            ("at", f"{h} fifteen am"),
        ]
    out += [
        ("at", t)
        for t in [
            "5 am",
            "5 45",
            "6 am",
            "6 10",
            "6 30 am",
            "7 am",
            "7 20",
            "8 am",
            "8 15 am",
            "9 am",
            "a quarter to six",
            "a quarter past seven",
            "quarter to eight",
            "seven o'clock",
            "six o'clock",
            "four forty five am",
            "ten am",
        ]
    ]
    return out


def make_dates(rng):
    """(preposition, entity text) pairs for dates."""
    out = [
        ("", d)
        for d in [
            "today",
            "tomorrow",
            "the day after tomorrow",
            "tonight",
            "this weekend",
            "next weekend",
            "next week",
            "later today",
            "next month",
            "this coming friday",
        ]
    ]
    for w in WEEKDAYS:
        out.append(("on", w))
        out.append(("", f"next {w}"))
        out.append(("", f"this {w}"))
    for m in MONTHS:
        out.append(("on", f"{m} {rng.choice(ORDINALS[:28])}"))
        out.append(("on", f"the {rng.choice(ORDINALS[:28])} of {m}"))
        out.append(("on", f"{m} {rng.choice(DIGIT_ORDINALS)}"))
        out.append(("on", f"{m} {rng.randint(1, 28)}"))
    out += [
        ("on", d)
        for d in [
            "christmas eve",
            "new year's day",
            "new year's eve",
            "the 14th",
            "the twentieth",
            "monday the ninth",
            "friday the thirteenth",
            "the first",
            "easter sunday",
            "thanksgiving",
            "boxing day",
        ]
    ]
    return out


def make_temperatures():
    out = []
    for n in [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]:
        out.append(f"{NUMBER_WORDS[n]} degrees")
        out.append(f"{n} degrees")
    for n in [19, 20, 21, 22]:
        out.append(f"{NUMBER_WORDS[n]} degrees celsius")
    for n in [62, 64, 65, 66, 68, 69, 70, 71, 72, 74, 75]:
        out.append(f"{NUMBER_WORDS[n]} degrees")
        out.append(f"{n} degrees")
    out += [
        "sixty eight fahrenheit",
        "seventy two degrees fahrenheit",
        "twenty and a half degrees",
        "nineteen point five degrees",
        "21 c",
        "seventy",
        "sixty eight",
        "twenty one",
        "72",
        "19",
    ]
    return out


def make_weather_temperatures():
    out = [f"{NUMBER_WORDS[n]} degrees" for n in [0, 5, 10, 15, 20, 25, 30, 35, 60, 70, 80, 85, 90]]
    out += [
        "freezing",
        "32 degrees",
        "minus five",
        "minus ten degrees",
        "100 degrees",
        "40 degrees celsius",
        "ninety degrees fahrenheit",
    ]
    return out


DURATIONS_SHORT = """
ten minutes | 5 minutes | five minutes | half an hour | an hour | two hours
| forty five minutes | ninety minutes | twenty minutes | 15 minutes
| a few minutes | three hours | 30 minutes | an hour and a half
| a couple of hours | 2 hours | one minute | twelve minutes
"""

DURATIONS_NIGHTS = """
two nights | three nights | one night | a week | five nights | 4 nights
| ten days | two weeks | a night | the whole weekend | six nights | 3 nights
| a fortnight | four days | seven nights | a couple of nights
"""

TIME_PARTS = "morning | afternoon | evening | early morning | late afternoon"

# ---------------------------------------------------------------------------
# Templates (hand-written), per intent.
# ---------------------------------------------------------------------------

TEMPLATES = {
    "book_flight": [
        "book a flight from {from_city} to {to_city} ({date}|)",
        "i need a flight to {to_city} ({date}|)",
        "(can|could|would) you (book|get) me a (flight|ticket) (from {from_city} |)to {to_city}",
        "find me a (cheap|direct|nonstop|one way|round trip) flight from {from_city} to {to_city}",
        "i want to fly (from {from_city} |)to {to_city} {date} (in the {time:part}|)",
        "book me on {airline} to {to_city} {date}",
        "get me a seat on the {time:np} {airline} flight to {to_city}",
        "i'd like to book a (round trip|one way|return) ticket (to|for) {to_city} leaving {date:np}",
        "reserve a flight (for two |for me |for the family |)to {to_city} departing {from_city} {date}",
        "fly me to {to_city} (please|as soon as possible|)",
        "book a flight (for me|please|)",
        "book me a flight i need to be in {to_city} {date}",
        "please book the {time:np} flight from {from_city} to {to_city}",
        "help me book a trip from {from_city} to {to_city} (with|on) {airline}",
        "put me on a flight to {to_city} leaving {date:np} (in the {time:part}|at {time:np})",
        "we want to fly {airline} from {from_city} to {to_city} {date}",
        "i have to get from {from_city} to {to_city} {date} can you book it",
        "buy (me |us |)(a ticket|two tickets|tickets) on the next flight to {to_city}",
        "does {airline} have a flight to {to_city} {date} i want to book it",
        "(i'm|we're) looking to book a flight out of {from_city} {date}",
        "find me something on {airline} to {to_city}",
        "i prefer {airline} so book me (on their|the) (next|cheapest) flight to {to_city}",
    ],
    "flight_status": [
        "is my flight to {to_city} on time",
        "what's the status of {airline} flight {~flightno}",
        "has the {time:np} flight from {from_city} landed (yet|)",
        "is the {airline} flight (from {from_city}|to {to_city}) delayed",
        "when does flight {~flightno} (arrive|land) in {to_city}",
        "check the status of my flight ({date}|)",
        "what time does the flight from {from_city} get in ({date}|)",
        "is {airline} {~flightno} running late",
        "did my {airline} flight get (delayed|moved|diverted)",
        "which gate does my flight to {to_city} (leave|depart) from",
        "tell me if the flight from {from_city} is delayed",
        "is my flight (delayed|on schedule|still on time)",
        "when does my flight to {to_city} start boarding",
        "has flight {~flightno} from {from_city} to {to_city} (departed|taken off) (yet|)",
        "is the flight landing at {time:np} from {from_city} on schedule",
        "how late is the {airline} flight to {to_city} (running|going to be)",
        "what's the departure time of my {airline} flight ({date}|)",
        "are flights from {from_city} (delayed|running late) because of the (snow|storm|fog)",
        "any update on my flight to {to_city} {date}",
        "track flight {~flightno} (for me|please|)",
        "is the {airline} (flight|plane) from {from_city} on time",
        "has my {airline} flight (been delayed|changed gate)",
    ],
    "hotel_booking": [
        "book a hotel in {city} ({date}|)",
        "i need a room in {city} for {duration:nights}",
        "find me a (cheap|quiet|pet friendly|four star|family friendly|) hotel (near the center of|in) {city}",
        "reserve a (double|single|twin) room in {city} from {date:np} for {duration:nights}",
        "(can|could) you find (me |us |)a place to stay in {city} {date}",
        "i'd like to book (a room|a suite|two rooms) (at a hotel |)in {city} for {duration:nights} starting {date:np}",
        "get me a hotel room for {duration:nights}",
        "book a hotel room (please|for me|)",
        "we need (accommodation|a hotel|somewhere to stay) in {city} ({date}|)",
        "(are there any|any) hotels available in {city} ({date}|)",
        "is there a hotel near the airport in {city} with a room {date}",
        "book me somewhere to sleep in {city} for {duration:nights}",
        "reserve a hotel for {duration:nights} in {city} checking in {date:np}",
        "i want to stay in {city} for {duration:nights} (can you book a hotel|find me a hotel)",
        "(make|put in) a hotel reservation in {city} for {date:np}",
        "i need a hotel (near the station|by the beach|close to the airport)",
        "look for a (hotel|bed and breakfast|guesthouse) in {city} and book it for {duration:nights}",
        "book the same hotel in {city} as last time for {duration:nights}",
    ],
    "weather": [
        "what's the weather (like |)in {city} ({date}|)",
        "will it rain in {city} ({date}|)",
        "do i need an umbrella {date}",
        "how (cold|hot|warm|windy) will it be in {city} ({date}|)",
        "what's the forecast for {date:np}",
        "is it going to snow (in {city} |){date}",
        "will it be (above|below|colder than|warmer than|over) {temperature:weather} in {city} {date}",
        "what's the temperature outside",
        "tell me the weather (please|for {date:np}|)",
        "is it sunny in {city} (right now|at the moment|)",
        "give me the (hourly|weekly|ten day|) forecast for {city}",
        "what will the weather be like at {time:np} {date}",
        "should i bring a jacket to {city} ({date}|)",
        "how hot is it in {city} (right now|)",
        "will it be sunny {date} in the {time:part}",
        "is it (going to be|) (foggy|stormy|humid|icy) in {city} in the {time:part}",
        "does it look like rain this {time:this_part}",
        "is it going to drop below {temperature:weather} {date}",
    ],
    "set_alarm": [
        "set an alarm for {time:np}",
        "wake me up at {time:wake} ({date}|)",
        "(please |)set an alarm for {time:np} {date}",
        "i need an alarm at {time:np} (every weekday|on weekdays|)",
        "wake me up in {duration:short}",
        "set my alarm (for|to) {time:np}",
        "can you wake me {date:wake_date} at {time:wake}",
        "set a wake up call for {time:wake}",
        "set an alarm (please|for me|)",
        "i have to get up at {time:wake} ({date}|) (set an alarm|)",
        "change my alarm to {time:np}",
        "set an alarm called (gym|meds|school run|pickup) for {time:np}",
        "snooze (the alarm |)for {duration:short}",
        "set an alarm {duration:short} from now",
        "alarm for {time:np} (please|)",
        "make sure i'm up by {time:wake} {date}",
        "add an alarm at {time:np} {date}",
        "get me up at {time:wake} {date} i have an early (flight|meeting)",
    ],
    "play_music": [
        "play {song} by {artist}",
        "play some {artist}",
        "put on {song}",
        "i want to hear {artist} (in the {room}|)",
        "play {song} in the {room}",
        "(can|could) you play something by {artist}",
        "play (some music|some jazz|something relaxing|my workout playlist)",
        "shuffle (songs|tracks) by {artist}",
        "play {artist} in the {room} for {duration:short}",
        "start playing {song}",
        "queue up {song} (by {artist} |)next",
        "let me listen to {song} by {artist}",
        "play the (latest|new|first) album (from|by) {artist}",
        "put on {song} by {artist} in the {room}",
        "play {song} on the {device:audio}",
        "i'd like to hear {song} (please|)",
        "play {artist} on the {room} {device:audio}",
        "can i hear {song} (again|one more time)",
        "play the song {song}",
        "turn on some {artist} (for {duration:short}|)",
        "(find|look up) {song} and play it",
        "skip to {song} (on this album|in the playlist|)",
        "play that {artist} song {song}",
        "put on (my|the) {artist} (playlist|mix) (in the {room}|)",
        "i'm in the mood for (some |){artist}",
        "play (the greatest hits of|the best of|a few tracks by) {artist}",
    ],
    "device_control": [
        "turn (on|off) the {device}",
        "turn the {room} {device:light} (on|off)",
        "switch off the {device} in the {room}",
        "(please |)turn on the {device} in the {room}",
        "turn off all the {device:lights} (in the house|everywhere|)",
        "dim the {device:light} in the {room}",
        "can you switch the {device} (on|off)",
        "turn off the {device} at {time:np}",
        "open the {device:open} in the {room}",
        "(close|shut) the {device:open}",
        "(open|close) the {device:gate}",
        "start the {device:appliance}",
        "is the {device} in the {room} still on",
        "power (down|up) the {device}",
        "{device:light} off",
        "turn everything off in the {room}",
        "switch the {room} {device:light} on at {time:np}",
        "brighten the {device:light} (a bit|a little|)",
        "(kill|cut) the {device:light} in the {room}",
        "run the {device:appliance} at {time:np}",
        "turn off the {device} in {duration:short}",
    ],
    "thermostat": [
        "set the thermostat to {temperature}",
        "set the temperature (in the {room} |)to {temperature}",
        "make it (warmer|cooler) in the {room}",
        "turn the heat (up|down) (a bit|a little|)",
        "turn up the heating to {temperature}",
        "it's freezing in here turn up the heat",
        "what's the thermostat set to",
        "change the {room} thermostat to {temperature}",
        "keep the house at {temperature} (until {time:np}|)",
        "warm up the {room} to {temperature} by {time:np}",
        "set the heating to {temperature} for {duration:short}",
        "cool the {room} down to {temperature}",
        "raise the thermostat to {temperature} at {time:np}",
        "drop the temperature to {temperature} {date}",
        "what temperature is the {room} (at|set to)",
        "i'd like the {room} at {temperature} (please|)",
        "put the heating (on|up) for {duration:short}",
        "bump the thermostat (up|down) to {temperature}",
        "can you make it {temperature} in here",
    ],
    "add_reminder": [
        "remind me to {~task} {date}",
        "remind me to {~task} at {time:np}",
        "remind me {date} at {time:np} to {~task}",
        "set a reminder to {~task}",
        "add a reminder for {date:np} to {~task}",
        "in {duration:short} remind me to {~task}",
        "remind me to {~task} in {duration:short}",
        "don't let me forget to {~task} ({date}|)",
        "create a reminder that says {~task}",
        "i need a reminder at {time:np} {date} to {~task}",
        "put a reminder in for {time:np} to {~task}",
        "please remind me about the {~event} {date}",
        "remind me about my {~event} {duration:short} before it starts",
        "add (to my reminders|a reminder) {~task}",
        "can you remind me (at {time:np} |){date} that i have a {~event}",
        "new reminder {~task} (at {time:np}|{date})",
        "ping me at {time:np} (to|so i remember to) {~task}",
    ],
    "cancel": [
        "cancel my flight to {to_city}",
        "cancel the {airline} booking for {date:np}",
        "cancel my hotel reservation in {city}",
        "cancel the alarm for {time:np}",
        "cancel (it|that|everything|the last one)",
        "never mind cancel that",
        "(please |)cancel my reminder for {date:np}",
        "i want to cancel my trip to {to_city} ({date}|)",
        "cancel the flight from {from_city} to {to_city}",
        "delete my {time:np} alarm",
        "scrap the hotel booking in {city} for {date:np}",
        "cancel the reminder to {~task}",
        "cancel my room at the hotel in {city}",
        "i no longer need the flight to {to_city} please cancel it",
        "cancel my {airline} flight {date}",
        "(forget|drop) the (alarm|reminder) i set for {date:np}",
        "call off the hotel in {city} we changed our plans",
        "cancel all my alarms (for {date:np}|)",
        "please cancel the tickets to {to_city}",
        "undo that (please|)",
        "cancel my {airline} (ticket|reservation)",
    ],
}

PREFIXES = ["hey assistant", "okay", "um", "hi", "so", "hey", "alright", "uh", "okay assistant"]
SUFFIXES = ["please", "thanks", "thank you", "if you can", "please and thank you"]
PREFIX_OK = {
    "flight_status",
    "weather",
    "thermostat",
    "device_control",
    "play_music",
    "set_alarm",
    "add_reminder",
    "book_flight",
    "hotel_booking",
    "cancel",
}


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


class Pools:
    def __init__(self, rng, held_out: bool):
        """held_out=False: the training view (every fifth open-class item removed)."""

        def open_class(items):
            return items if held_out else [x for i, x in enumerate(items) if i % 5 != 4]

        cities = open_class(split_pool(CITIES))
        # Hold out whole artists (with their songs), every fifth by first appearance.
        pairs = [tuple(x.strip() for x in item.split("/")) for item in split_pool(MUSIC)]
        artists = list(dict.fromkeys(a for _, a in pairs))
        kept = set(open_class(artists))
        music = [(song, a) for song, a in pairs if a in kept]
        self.music = music
        self.entity = {
            "from_city": cities,
            "to_city": cities,
            "city": cities,
            "airline": open_class(split_pool(AIRLINES)),
            "artist": sorted({a for _, a in music}),
            "song": [song for song, _ in music],
            "device": split_pool(DEVICES_LIGHT) + split_pool(DEVICES_OTHER),
            "light": split_pool(DEVICES_LIGHT),
            "open": split_pool(DEVICES_OPEN),
            "appliance": split_pool(DEVICES_APPLIANCE),
            "audio": split_pool(DEVICES_AUDIO),
            "room": split_pool(ROOMS),
            "temperature": make_temperatures(),
            "weather": make_weather_temperatures(),
            "duration": split_pool(DURATIONS_SHORT),
            "short": split_pool(DURATIONS_SHORT),
            "nights": split_pool(DURATIONS_NIGHTS),
            "part": split_pool(TIME_PARTS),
            "this_part": ["morning", "afternoon", "evening"],
            "gate": ["garage door", "front gate", "gate", "garage", "back gate"],
            "lights": split_pool(DEVICES_LIGHTS_PLURAL),
        }
        # Dates and times carry a preposition, removed by ":np".
        self.prep = {"date": make_dates(rng), "time": make_times(rng)}
        self.entity["wake"] = [t for p, t in make_wake_times()]
        self.entity["wake_date"] = [
            t for p, t in self.prep["date"] if t not in ("tonight", "later today", "today")
        ]
        self.plain = {
            "task": split_pool(TASKS),
            "event": split_pool(EVENTS),
            "flightno": split_pool(FLIGHT_NUMBERS),
        }


ALT = re.compile(r"\(([^()]*)\)")


def expand(template, rng):
    while True:
        m = ALT.search(template)
        if not m:
            return template
        choice = rng.choice(m.group(1).split("|"))
        template = template[: m.start()] + choice + template[m.end() :]


def fill(template, pools, rng):
    """Return (tokens, tags) for one random realisation of the template."""
    tokens, tags = [], []
    expanded = expand(template, rng)
    pair = None
    if "{song}" in expanded and "{artist}" in expanded:
        pair = dict(zip(("song", "artist"), rng.choice(pools.music)))
    for piece in expanded.split():
        if not (piece.startswith("{") and piece.endswith("}")):
            tokens.append(piece)
            tags.append("O")
            continue
        name = piece[1:-1]
        if name.startswith("~"):
            words = rng.choice(pools.plain[name[1:]]).split()
            tokens += words
            tags += ["O"] * len(words)
            continue
        label, _, pool = name.partition(":")
        if label in pools.prep and pool in ("", "np"):
            prep, text = rng.choice(pools.prep[label])
            if prep and pool != "np":
                tokens.append(prep)
                tags.append("O")
        elif pair and not pool and label in pair:
            text = pair[label]
        else:
            text = rng.choice(pools.entity[pool or label])
        words = text.split()
        tokens += words
        tags += [f"B-{label}"] + [f"I-{label}"] * (len(words) - 1)
    return tokens, tags


def decorate(tokens, tags, intent, rng):
    """Occasionally add a greeting or a politeness word, as people do."""
    r = rng.random()
    if r < 0.12 and intent in PREFIX_OK:
        pre = rng.choice(PREFIXES).split()
        if tokens[0] != pre[-1]:
            tokens, tags = pre + tokens, ["O"] * len(pre) + tags
    elif r > 0.88:
        suf = rng.choice(SUFFIXES).split()
        if not set(suf) & set(tokens):
            tokens, tags = tokens + suf, tags + ["O"] * len(suf)
    return tokens, tags


def sample(intent, n, pools, rng, seen):
    """n new sentences for an intent; templates are cycled so all get used."""
    out = []
    templates = TEMPLATES[intent][:]
    order = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 20000:
            raise RuntimeError(f"cannot find {n} distinct sentences for {intent}")
        if not order:
            order = templates[:]
            rng.shuffle(order)
        template = order.pop()
        tokens, tags = fill(template, pools, rng)
        tokens, tags = decorate(tokens, tags, intent, rng)
        text = " ".join(tokens)
        if text in seen:
            continue
        seen.add(text)
        out.append((tokens, tags, intent))
    return out


def generate():
    rng = random.Random(SEED)
    train_pools = Pools(rng, held_out=False)
    eval_pools = Pools(rng, held_out=True)
    seen = set()
    splits = {}
    # Dev and test first, so training sentences can never repeat them.
    for name, n, pools in [
        ("test", N_TEST, eval_pools),
        ("dev", N_DEV, eval_pools),
        ("train_intents", N_TRAIN_INTENTS, train_pools),
        ("train_slots", N_TRAIN_SLOTS, train_pools),
    ]:
        rows = []
        for intent in TEMPLATES:
            rows += sample(intent, n[intent] if isinstance(n, dict) else n, pools, rng, seen)
        rng.shuffle(rows)
        splits[name] = rows
    return splits


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def write(splits, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train_intents.jsonl", "w", encoding="utf8") as f:
        for tokens, _tags, intent in splits["train_intents"]:
            text = " ".join(tokens)
            f.write(json.dumps({"text": text, "tokens": text.split(" "), "label": intent}) + "\n")
    with open(out / "train_slots.iob", "w", encoding="utf8") as f:
        f.write(
            "\n\n".join(
                "\n".join(f"{tok}\t{tag}" for tok, tag in zip(tokens, tags))
                for tokens, tags, _ in splits["train_slots"]
            )
            + "\n"
        )
    for name in ("dev", "test"):
        d = out / name
        d.mkdir(exist_ok=True)
        rows = splits[name]
        (d / "seq.in").write_text("".join(" ".join(t) + "\n" for t, _, _ in rows), "utf8")
        (d / "seq.out").write_text("".join(" ".join(g) + "\n" for _, g, _ in rows), "utf8")
        (d / "label").write_text("".join(i + "\n" for _, _, i in rows), "utf8")


# ---------------------------------------------------------------------------
# Readers and validation (read back from disk, independent of the generator)
# ---------------------------------------------------------------------------


def read_all(folder: Path):
    """{file: [(tokens, tags or None, intent or None)]}"""
    data = {}
    rows = []
    lines = (folder / "train_intents.jsonl").read_text("utf8").split("\n")
    assert lines[-1] == "", "train_intents.jsonl must end with a newline"
    for line in lines[:-1]:
        obj = json.loads(line)
        assert set(obj) == {"text", "tokens", "label"}, obj
        assert obj["tokens"] == obj["text"].split(" "), obj
        rows.append((obj["tokens"], None, obj["label"]))
    data["train_intents.jsonl"] = rows
    rows = []
    text = (folder / "train_slots.iob").read_text("utf8")
    assert text.endswith("\n") and not text.endswith("\n\n"), "train_slots.iob ending"
    for block in text[:-1].split("\n\n"):
        pairs = [line.split("\t") for line in block.split("\n")]
        assert all(len(p) == 2 and p[0] and p[1] for p in pairs), block
        rows.append(([p[0] for p in pairs], [p[1] for p in pairs], None))
    data["train_slots.iob"] = rows
    for name in ("dev", "test"):
        files = {}
        for f in ("seq.in", "seq.out", "label"):
            content = (folder / name / f).read_text("utf8")
            assert content.endswith("\n"), f"{name}/{f} must end with a newline"
            files[f] = content[:-1].split("\n")
            assert all(line.strip() == line and line for line in files[f]), (
                f"empty line or stray whitespace in {name}/{f}"
            )
        assert len(files["seq.in"]) == len(files["seq.out"]) == len(files["label"]), name
        rows = []
        for i, (s, t, lab) in enumerate(zip(files["seq.in"], files["seq.out"], files["label"])):
            tokens, tags = s.split(" "), t.split(" ")
            assert len(tokens) == len(tags), (
                f"{name} line {i + 1}: {len(tokens)} tokens, {len(tags)} tags"
            )
            rows.append((tokens, tags, lab))
        data[f"{name}/"] = rows
    return data


def entity_mentions(tags):
    return [t[2:] for t in tags if t.startswith("B-")]


def validate(data, verbose=True):
    """The problems of the corpus read back: its form first, then its balance."""
    problems = form_problems(data) + balance_problems(data)
    if verbose:
        for p in problems:
            print("PROBLEM:", p)
        print("ok" if not problems else f"{len(problems)} problems")
    return problems


def form_problems(data):
    """Bad tokens, bad or dangling tags, and sentences that occur twice."""
    problems = []
    all_texts = Counter()
    for name, rows in data.items():
        for tokens, tags, _intent in rows:
            text = " ".join(tokens)
            all_texts[text] += 1
            if any(not tok or tok != tok.lower() or " " in tok or "\t" in tok for tok in tokens):
                problems.append(f"{name}: bad token in {text!r}")
            if tags is not None:
                problems += tag_problems(name, text, tags)
    dups = [t for t, c in all_texts.items() if c > 1]
    if dups:
        problems.append(f"{len(dups)} sentences occur twice, e.g. {dups[:3]}")
    return problems


def tag_problems(name, text, tags):
    """IOB2 tags of one sentence that are malformed or continue another label."""
    problems = []
    prev = "O"
    for tag in tags:
        if not (tag == "O" or re.fullmatch(r"[BI]-[a-z_]+", tag)):
            problems.append(f"{name}: bad tag {tag!r} in {text!r}")
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            problems.append(f"{name}: {tag} after {prev} in {text!r}")
        prev = tag
    return problems


def balance_problems(data):
    """Rare or unbalanced intents and entity types, and evaluation labels never trained."""
    problems = []
    intents = Counter(i for _, _, i in data["train_intents.jsonl"])
    ents = Counter(e for _, tags, _ in data["train_slots.iob"] for e in entity_mentions(tags))
    for label, c in intents.items():
        if c < 15:
            problems.append(f"intent {label}: only {c} training examples")
    for label, c in ents.items():
        if c < 15:
            problems.append(f"entity {label}: only {c} training mentions")
    if max(intents.values()) > 3 * min(intents.values()):
        problems.append(f"intent imbalance: {intents}")
    if max(ents.values()) > 4 * min(ents.values()):
        problems.append(f"entity imbalance over a factor of 4: {ents}")
    eval_labels = {i for k in ("dev/", "test/") for _, _, i in data[k]}
    eval_ents = {
        e for k in ("dev/", "test/") for _, tags, _ in data[k] for e in entity_mentions(tags)
    }
    if not eval_labels <= set(intents):
        problems.append(f"eval intents missing from training: {eval_labels - set(intents)}")
    if not eval_ents <= set(ents):
        problems.append(f"eval entity types missing from training: {eval_ents - set(ents)}")
    return problems


def stats(data):
    s = {}
    for name, rows in data.items():
        s[name] = {
            "sentences": len(rows),
            "tokens": sum(len(t) for t, _, _ in rows),
            "intents": Counter(i for _, _, i in rows if i is not None),
            "entities": Counter(e for _, tags, _ in rows if tags for e in entity_mentions(tags)),
            "n_ents": Counter(len(entity_mentions(tags)) for _, tags, _ in rows if tags),
        }
    return s


ENTITY_DESCRIPTIONS = {
    "from_city": "departure city of a flight",
    "to_city": "destination city of a flight",
    "city": "city of a hotel stay or a weather question",
    "airline": "airline name",
    "date": 'day or date ("tomorrow", "next friday", "the fifth of june", "march 12")',
    "time": 'clock time or part of day ("seven am", "6 30", "half past nine", "morning")',
    "duration": 'length of time ("ten minutes", "three nights", "half an hour")',
    "artist": "musician or band",
    "song": "song title",
    "device": 'home device ("ceiling light", "dishwasher", "blinds", "sound bar")',
    "room": 'room of the home ("kitchen", "master bedroom", "laundry room")',
    "temperature": 'temperature value ("twenty one degrees", "68 degrees", "72")',
}

INTENT_DESCRIPTIONS = {
    "book_flight": "book or look for a flight to book",
    "flight_status": "delays, arrival, boarding, gate of a flight",
    "hotel_booking": "book a hotel or other accommodation",
    "weather": "forecast and current weather",
    "set_alarm": "set, change or snooze an alarm",
    "play_music": "play an artist, a song or some music",
    "device_control": "switch, dim, open, start home devices",
    "thermostat": "heating and cooling, thermostat settings",
    "add_reminder": "create a reminder",
    "cancel": "cancel a flight, hotel, alarm or reminder, or the last request",
}


def unseen_share(data):
    def mentions(rows):
        out = []
        for tokens, tags, _ in rows:
            for i, tag in enumerate(tags):
                if tag.startswith("B-"):
                    j = i + 1
                    while j < len(tags) and tags[j] == "I-" + tag[2:]:
                        j += 1
                    out.append((tag[2:], " ".join(tokens[i:j])))
        return out

    seen = set(mentions(data["train_slots.iob"]))
    ev = mentions(data["dev/"]) + mentions(data["test/"])
    return sum(m not in seen for m in ev) / len(ev)


def write_readme(data, slot_rows, out: Path):
    """README.md: provenance, files, formats and counts; slot_rows are the generated
    train_slots rows, whose intents the file itself does not keep."""
    s = stats(data)
    intents = list(TEMPLATES)
    ent_types = list(ENTITY_DESCRIPTIONS)
    lines = []
    add = lines.append
    add("# Demo corpus: travel and smart-home voice assistant")
    add("")
    add("A small, offline corpus for the spacy_mtl demo. It shows training **one** shared")
    add("encoder for intent classification and slot (entity) recognition from **separate**")
    add("corpora: one training file is annotated with intents only, another (with different")
    add("sentences) with slots only. Dev and test are annotated jointly, so both tasks are")
    add("evaluated on the same sentences.")
    add("")
    add("The text imitates lower-cased speech-recogniser output: no punctuation, numbers")
    add('written as words or digits ("seven thirty", "7 30 am", "68 degrees"), tokens')
    add("separated by single spaces.")
    add("")
    add("## Provenance and licence")
    add("")
    add("Written by the spacy_mtl developers for this project. The templates, the slot")
    add("fillers (cities, airlines, artists, song titles, devices, rooms, dates, times,")
    add("...), and the reminder phrases were written by hand in `demo_corpus/english.py`; no")
    add("sentence was taken from ATIS, SNIPS or any other data set. The generator expands")
    add(
        f"{sum(len(v) for v in TEMPLATES.values())} templates ({min(len(v) for v in TEMPLATES.values())}"
        f" to {max(len(v) for v in TEMPLATES.values())} per intent, many with alternative"
    )
    add("wordings inside) with a fixed random seed, so `python -m demo_corpus english data/demo`")
    add("rewrites exactly these files and validates them. The written files are the artifact; the")
    add("generator documents how they were made.")
    add("")
    add("Licence: [CC0-1.0](https://creativecommons.org/publicdomain/zero/1.0/) (public domain")
    add("dedication). Names of real cities, airlines, artists and songs are used only as")
    add("slot values.")
    add("")
    add("To make the model generalise rather than memorise, every fifth city, airline")
    add("and artist (with the artist's songs) is held out of both training files; dev and")
    add("test draw from all of them, so they contain names never seen in training: of the")
    add(f"entity mentions in dev and test, {unseen_share(data):.0%} have a text that never")
    add("occurs as an entity of that type in `train_slots.iob`.")
    add("")
    add("## Files")
    add("")
    add("| file | annotation | sentences | tokens |")
    add("|---|---|---:|---:|")
    desc = {
        "train_intents.jsonl": "intents only",
        "train_slots.iob": "slots only",
        "dev/": "intents and slots",
        "test/": "intents and slots",
    }
    for name in ("train_intents.jsonl", "train_slots.iob", "dev/", "test/"):
        add(f"| `{name}` | {desc[name]} | {s[name]['sentences']} | {s[name]['tokens']} |")
    add("")
    add("No sentence occurs twice, within a file or across files.")
    add("")
    add("## Formats")
    add("")
    add("- `train_intents.jsonl`: one JSON object per line,")
    add('  `{"text": "...", "tokens": [...], "label": "intent"}`, with')
    add('  `tokens == text.split(" ")`. **No entity annotation**, although the sentences')
    add("  mention cities, times, devices and so on: a loader must mark entities as")
    add('  *missing*, not as "no entities".')
    add("- `train_slots.iob`: CoNLL style, one `token<TAB>tag` per line with IOB2 tags")
    add("  (`O`, `B-to_city`, `I-to_city`, ...), one blank line between sentences. **No intent")
    add("  annotation**: a loader must leave the categories missing. A sentence whose tags are")
    add("  all `O` is a real negative (it has no entities).")
    add("- `dev/`, `test/`: three line-aligned files. `seq.in` holds the tokens separated by")
    add("  single spaces, `seq.out` one IOB2 tag per token, `label` the intent.")
    add("")
    add("## Intents")
    add("")
    add("Single-label, 10 classes.")
    add("")
    add("| intent | meaning | train_intents | dev | test | train_slots (unlabelled) |")
    add("|---|---|---:|---:|---:|---:|")
    slot_intents = Counter(i for _, _, i in slot_rows)
    for i in intents:
        add(
            f"| `{i}` | {INTENT_DESCRIPTIONS[i]} | {s['train_intents.jsonl']['intents'][i]} |"
            f" {s['dev/']['intents'][i]} | {s['test/']['intents'][i]} | {slot_intents[i]} |"
        )
    add("")
    add("The last column says which kind of request the slots-only sentences were written")
    add("for; that label is not in the file.")
    add("")
    add("## Entity types")
    add("")
    add("Mentions (B- tags) per file.")
    add("")
    add("| type | meaning | train_slots | dev | test |")
    add("|---|---|---:|---:|---:|")
    for e in ent_types:
        add(
            f"| `{e}` | {ENTITY_DESCRIPTIONS[e]} | {s['train_slots.iob']['entities'][e]} |"
            f" {s['dev/']['entities'][e]} | {s['test/']['entities'][e]} |"
        )
    tot = {k: sum(s[k]["entities"].values()) for k in ("train_slots.iob", "dev/", "test/")}
    add(f"| total | | {tot['train_slots.iob']} | {tot['dev/']} | {tot['test/']} |")
    add("")
    add("Entities per sentence:")
    add("")
    add("| entities in sentence | train_slots | dev | test |")
    add("|---|---:|---:|---:|")
    for n in range(0, max(max(s[k]["n_ents"]) for k in ("train_slots.iob", "dev/", "test/")) + 1):
        add(
            f"| {n} | {s['train_slots.iob']['n_ents'][n]} | {s['dev/']['n_ents'][n]} |"
            f" {s['test/']['n_ents'][n]} |"
        )
    add("")
    add("`from_city`/`to_city`/`city` share one list of city names: the type depends on")
    add('context ("from boston" vs "to boston" vs "a hotel in boston"). Durations follow')
    add('`for`/`in` ("for three nights", "in ten minutes"); prepositions ("on", "at",')
    add('"for") are never part of an entity.')
    add("")
    (out / "README.md").write_text("\n".join(lines), "utf8")


def make(out: Path, check_only: bool = False) -> int:
    """Write the corpus and its README to out (unless check_only), then validate what is there.

    out (Path): The corpus folder, e.g. data/demo.
    check_only (bool): Validate the files in out without writing them.
    RETURNS (int): The exit status: 1 if validation found problems.
    """
    if not check_only:
        splits = generate()
        write(splits, out)
        write_readme(read_all(out), splits["train_slots"], out)
    return 1 if validate(read_all(out)) else 0
